/*
 * A chained hash of processes by tgid. Entries are created from whatever
 * names a process first (a fork record, an event header, /proc) and
 * replaced when the same tgid shows up with a different start time: that
 * is a new process behind a reused pid.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "sensors/proctable.h"

#define NBUCKETS 4096
#define TICK_NS  (1000000000ull / 100) /* /proc reports start time in USER_HZ ticks */
#define MAX_DEPTH 256

struct pentry {
	struct proc_info p;
	struct pentry *next;
};

static struct pentry *buckets[NBUCKETS];
static size_t count;

static unsigned bucket_of(uint32_t tgid)
{
	return (tgid * 2654435761u) & (NBUCKETS - 1);
}

static struct pentry *find(uint32_t tgid)
{
	for (struct pentry *e = buckets[bucket_of(tgid)]; e; e = e->next)
		if (e->p.tgid == tgid)
			return e;
	return NULL;
}

static void entry_free(struct pentry *e)
{
	free(e->p.exe);
	free(e);
}

static void remove_tgid(uint32_t tgid)
{
	struct pentry **pp = &buckets[bucket_of(tgid)];

	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->p.tgid == tgid) {
			struct pentry *e = *pp;
			*pp = e->next;
			entry_free(e);
			count--;
			return;
		}
}

void proctable_reset(void)
{
	for (size_t i = 0; i < NBUCKETS; i++) {
		struct pentry *e = buckets[i], *n;
		for (; e; e = n) {
			n = e->next;
			entry_free(e);
		}
		buckets[i] = NULL;
	}
	count = 0;
}

size_t proctable_count(void)
{
	return count;
}

const struct proc_info *proctable_lookup(uint32_t tgid)
{
	struct pentry *e = find(tgid);
	return e ? &e->p : NULL;
}

/* Is the entry the same process as one that started at start_ns? */
static int same_start(const struct proc_info *p, uint64_t start_ns)
{
	if (p->approx_start)
		return start_ns >= p->start_ns && start_ns - p->start_ns < TICK_NS;
	return p->start_ns == start_ns;
}

static struct pentry *insert(uint32_t tgid)
{
	struct pentry *e = calloc(1, sizeof(*e));
	unsigned b = bucket_of(tgid);

	if (!e)
		return NULL;
	e->p.tgid = tgid;
	e->next = buckets[b];
	buckets[b] = e;
	count++;
	return e;
}

/* The entry for (tgid, start): the existing one, or a fresh one that
 * replaces a stale process with the same pid. */
static struct pentry *get(uint32_t tgid, uint64_t start_ns, int *fresh)
{
	struct pentry *e = find(tgid);

	*fresh = 0;
	if (e && same_start(&e->p, start_ns)) {
		if (e->p.approx_start) { /* now we know it to the nanosecond */
			e->p.start_ns = start_ns;
			e->p.approx_start = 0;
		}
		return e;
	}
	if (e)
		remove_tgid(tgid);
	e = insert(tgid);
	if (e) {
		e->p.start_ns = start_ns;
		*fresh = 1;
	}
	return e;
}

static char *read_exe(uint32_t tgid)
{
	char link[64], buf[4096];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%u/exe", tgid);
	n = readlink(link, buf, sizeof(buf) - 1);
	if (n <= 0)
		return NULL;
	buf[n] = 0;
	return strdup(buf);
}

static void set_comm(struct proc_info *p, const char *comm)
{
	memcpy(p->comm, comm, TW_COMM_LEN);
	p->comm[TW_COMM_LEN] = 0;
}

const struct proc_info *proctable_note_hdr(const struct tw_hdr *h)
{
	int fresh;
	struct pentry *e = get(h->tgid, h->start_boot_ns, &fresh);

	if (!e)
		return NULL;
	e->p.ppid = h->ppid; /* follows reparenting when the parent dies */
	e->p.uid = h->uid;
	e->p.cgroup_id = h->cgroup_id;
	set_comm(&e->p, h->comm);
	/* A process first seen mid-life (no fork or exec record): ask /proc
	 * once. It may already be gone; then exe stays unknown. */
	if (fresh && !e->p.exe)
		e->p.exe = read_exe(h->tgid);
	return &e->p;
}

const struct proc_info *proctable_note_fork(const struct tw_fork_event *f)
{
	const struct proc_info *parent;
	int fresh;
	struct pentry *e;

	/* A process is never its own child; such a record would replace the
	 * parent's entry while `parent` still points at it (found by
	 * tests/fuzz/fuzz_event.c). */
	if (f->child_tgid == f->hdr.tgid)
		return NULL;
	parent = proctable_note_hdr(&f->hdr);
	e = get(f->child_tgid, f->child_start_boot_ns, &fresh);

	if (!e)
		return NULL;
	e->p.ppid = f->hdr.tgid;
	e->p.uid = f->hdr.uid;
	e->p.cgroup_id = f->hdr.cgroup_id;
	set_comm(&e->p, f->hdr.comm);
	if (!e->p.exe && parent && parent->exe)
		e->p.exe = strdup(parent->exe);
	return &e->p;
}

const struct proc_info *proctable_note_exec(const struct tw_hdr *h, const char *exe)
{
	int fresh;
	struct pentry *e = get(h->tgid, h->start_boot_ns, &fresh);

	if (!e)
		return NULL;
	e->p.ppid = h->ppid;
	e->p.uid = h->uid;
	e->p.cgroup_id = h->cgroup_id;
	set_comm(&e->p, h->comm);
	if (exe) {
		char *copy = strdup(exe);
		if (copy) {
			free(e->p.exe);
			e->p.exe = copy;
		}
	}
	return &e->p;
}

void proctable_note_exit(const struct tw_hdr *h, uint64_t now_boot_ns)
{
	struct pentry *e = find(h->tgid);

	if (e && same_start(&e->p, h->start_boot_ns)) {
		e->p.exited = 1;
		e->p.exit_ns = now_boot_ns;
	}
}

const struct proc_info *proctable_note_proc(uint32_t tgid, uint32_t ppid, uint32_t uid,
					    uint64_t start_ns, uint64_t cgroup_id,
					    const char *comm, const char *exe)
{
	struct pentry *e = find(tgid);

	/* Records from the sensors are exact; never overwrite them with /proc. */
	if (e && !e->p.approx_start &&
	    e->p.start_ns >= start_ns && e->p.start_ns - start_ns < TICK_NS)
		return &e->p;
	if (e)
		remove_tgid(tgid);
	e = insert(tgid);
	if (!e)
		return NULL;
	e->p.ppid = ppid;
	e->p.uid = uid;
	e->p.start_ns = start_ns;
	e->p.approx_start = 1;
	e->p.cgroup_id = cgroup_id;
	snprintf(e->p.comm, sizeof(e->p.comm), "%s", comm ? comm : "");
	e->p.exe = exe ? strdup(exe) : NULL;
	return &e->p;
}

int proctable_is_descendant(uint32_t tgid, uint32_t ancestor_tgid)
{
	const struct proc_info *cur = proctable_lookup(tgid);

	for (int depth = 0; cur && depth < MAX_DEPTH; depth++) {
		const struct proc_info *parent;

		if (cur->ppid == 0 || cur->ppid == cur->tgid)
			return 0;
		parent = proctable_lookup(cur->ppid);
		/* A parent that started after its child is a reused pid: the
		 * real parent is gone and the chain is broken here. */
		if (parent && parent->start_ns > cur->start_ns &&
		    !(parent->approx_start || cur->approx_start))
			return 0;
		if (parent && parent->approx_start && parent->start_ns > cur->start_ns + TICK_NS)
			return 0;
		if (cur->ppid == ancestor_tgid)
			return 1;
		cur = parent;
	}
	return 0;
}

void proctable_expire(uint64_t now_boot_ns, uint64_t grace_ns)
{
	for (size_t i = 0; i < NBUCKETS; i++) {
		struct pentry **pp = &buckets[i];
		while (*pp) {
			struct pentry *e = *pp;
			if (e->p.exited && now_boot_ns - e->p.exit_ns > grace_ns) {
				*pp = e->next;
				entry_free(e);
				count--;
			} else {
				pp = &e->next;
			}
		}
	}
}
