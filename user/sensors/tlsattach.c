/*
 * Discovery of the files the TLS probes go on (tlsattach.h): maps lines
 * → a table of files keyed by device and inode → examine once → attach.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include "lib/log.h"
#include "lib/util.h"
#include "sensors/tlsattach.h"

#define NS_MS 1000000ull
#define STAGES 4
#define QUEUE_CAP 1024 /* pending rescans per stage */
static const uint64_t stage_delay_ns[STAGES] = { 0, 20 * NS_MS, 250 * NS_MS, 2000 * NS_MS };

enum file_state { F_FREE = 0, F_NONE, F_PROBED, F_FAILED };

struct file_ent {
	uint64_t dev, ino;     /* the key from the maps line */
	uint64_t rdev, rino;   /* the opened file's own (differs on overlayfs) */
	enum file_state state;
	void *handle;
	uint32_t witness;      /* a process seen mapping it; 0: none known */
	char *path;            /* as the witness sees it */
};

struct slot {
	uint64_t dev, ino;
	int32_t ent; /* entry + 1; 0 empty; -1 deleted */
};

struct rescan {
	uint32_t tgid;
	uint64_t due;
};

struct tlsattach {
	struct tlsattach_opts o;
	tlsattach_attach_fn attach;
	tlsattach_detach_fn detach;
	tlsattach_known_fn known;   /* optional */
	tlsattach_settle_fn settle; /* optional */
	void *ctx;
	struct file_ent *ents;
	unsigned nents;        /* entries in use, F_FREE ones below included */
	struct slot *slots;
	unsigned nslots;       /* a power of two, twice max_files */
	struct rescan q[STAGES][QUEUE_CAP];
	unsigned qhead[STAGES], qlen[STAGES];
	double tokens;         /* maps reads the budget allows now */
	uint64_t refill_ns, check_ns;
	struct tlsattach_stats st;
};

/* ---- the file table ------------------------------------------------------ */

static struct slot *slot_find(struct tlsattach *t, uint64_t dev, uint64_t ino, int create)
{
	uint64_t h = (ino * 0x9E3779B97F4A7C15ull) ^ (dev * 0xC2B2AE3D27D4EB4Full);
	struct slot *tomb = NULL;

	for (unsigned i = 0; i < t->nslots; i++) {
		struct slot *s = &t->slots[(h + i) & (t->nslots - 1)];

		if (s->ent > 0 && s->dev == dev && s->ino == ino)
			return s;
		if (s->ent < 0 && !tomb)
			tomb = s;
		if (s->ent == 0)
			return create ? (tomb ? tomb : s) : NULL;
	}
	return create ? tomb : NULL;
}

static struct file_ent *file_lookup(struct tlsattach *t, uint64_t dev, uint64_t ino)
{
	struct slot *s = slot_find(t, dev, ino, 0);

	return s ? &t->ents[s->ent - 1] : NULL;
}

/* Index @e under a key (a maps key or the file's own). */
static void file_index(struct tlsattach *t, struct file_ent *e, uint64_t dev, uint64_t ino)
{
	struct slot *s;

	if (file_lookup(t, dev, ino) || !(s = slot_find(t, dev, ino, 1)))
		return;
	s->dev = dev;
	s->ino = ino;
	s->ent = (int32_t)(e - t->ents) + 1;
}

static struct file_ent *file_new(struct tlsattach *t, uint64_t dev, uint64_t ino)
{
	struct file_ent *e = NULL;

	for (unsigned i = 0; i < t->nents && !e; i++)
		if (t->ents[i].state == F_FREE)
			e = &t->ents[i];
	if (!e && t->nents < t->o.max_files)
		e = &t->ents[t->nents++];
	if (!e)
		return NULL;
	memset(e, 0, sizeof(*e));
	e->dev = dev;
	e->ino = ino;
	e->state = F_NONE;
	file_index(t, e, dev, ino);
	return e;
}

/* Rare (a probed file gone, an alias found): every key of @e goes. */
static void file_forget(struct tlsattach *t, struct file_ent *e)
{
	int32_t id = (int32_t)(e - t->ents) + 1;

	for (unsigned i = 0; i < t->nslots; i++)
		if (t->slots[i].ent == id) {
			t->slots[i].ent = -1;
			if (t->known)
				t->known(t->ctx, t->slots[i].dev, t->slots[i].ino, 0);
		}
	free(e->path);
	memset(e, 0, sizeof(*e));
}

/* ---- one file, examined once ---------------------------------------------- */

static int named_like_tls_lib(const char *path)
{
	const char *b = strrchr(path, '/');

	b = b ? b + 1 : path;
	return !strncmp(b, "libssl.so", 9) || !strncmp(b, "libgnutls.so", 12);
}

static void names_of(const struct tlself_result *r, char *out, size_t n)
{
	size_t off = 0;

	out[0] = 0;
	for (int f = 0; f < TLSELF_NFN; f++)
		if ((r->found & (1u << f)) && off < n)
			off += snprintf(out + off, n - off, "%s%s", off ? ", " : "",
					tlself_name((enum tlself_fn)f));
}

/* What the file open on @fd holds, and its probes when it has the functions. */
static void file_examine(struct tlsattach *t, struct file_ent *e, int fd, const char *path)
{
	struct tlself_result r;
	char link[64], names[128];
	int err;

	t->st.examined++;
	if (tlself_scan(fd, &r) || !r.found) {
		if (named_like_tls_lib(path)) {
			t->st.no_symbols++;
			log_warn("TLS: %s defines none of SSL_write, SSL_write_ex, gnutls_record_send: "
				 "not probed", path);
		} else if (r.flags & TLSELF_F_GO_STRIPPED) {
			t->st.go_stripped++;
			log_warn("TLS: %s is a stripped Go binary older than Go 1.18 (no symbol "
				 "table, a function table not understood): its crypto/tls plaintext is "
				 "not captured", path);
		}
		return;
	}
	names_of(&r, names, sizeof(names));
	if (t->st.probed >= t->o.max_probed) {
		t->st.failed++;
		log_warn("TLS: %s not probed (%s): %u files are probed already", path, names,
			 t->o.max_probed);
		return;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((err = t->attach(t->ctx, link, &r, &e->handle))) {
		t->st.failed++;
		e->state = F_FAILED;
		log_warn("TLS: attaching to %s in %s failed: %s", names, path, strerror(-err));
		return;
	}
	e->state = F_PROBED;
	e->path = strdup(path);
	t->st.probed++;
	t->st.attached++;
	log_info("TLS: probing %s in %s", names, path);
}

/* Open what process @pid maps at [lo, hi) from @path: the mapped inode
 * itself through map_files, else the path inside the process's root. */
static int open_mapped(struct tlsattach *t, uint32_t pid, const char *range, const char *path)
{
	char p[4200];
	int fd;

	if (range) {
		snprintf(p, sizeof(p), "%s/%u/map_files/%s", t->o.procdir, pid, range);
		if ((fd = open(p, O_RDONLY | O_CLOEXEC)) >= 0)
			return fd;
	}
	if (!pid) /* a fixed system path: libgnutls.so.30 is a symlink */
		return open(path, O_RDONLY | O_CLOEXEC);
	/* the last component as the process resolved it: a symlink there
	 * would be followed from our root, not the process's */
	snprintf(p, sizeof(p), "%s/%u/root%s", t->o.procdir, pid, path);
	return open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
}

/* Tell the kernel side that @e, under the maps key and its own, needs
 * nothing more: its mappings no longer unsettle a process. */
static void file_known(struct tlsattach *t, struct file_ent *e, uint64_t dev, uint64_t ino)
{
	if (!t->known)
		return;
	t->known(t->ctx, dev, ino, 1);
	if (e->rino && (e->rdev != dev || e->rino != ino))
		t->known(t->ctx, e->rdev, e->rino, 1);
}

/* One executable mapping of a file: known (one lookup), or examined now.
 * 1 when the file has been examined (probed where it could be), 0 when
 * it could not be (the table full, the process gone). */
static int see_mapping(struct tlsattach *t, uint32_t pid, const char *range, uint64_t dev,
		       uint64_t ino, const char *path)
{
	struct file_ent *e, *same;
	struct stat sb;
	int fd;

	t->st.mappings++;
	if (file_lookup(t, dev, ino)) {
		t->st.known++;
		return 1;
	}
	if (!(e = file_new(t, dev, ino))) {
		t->st.table_full++;
		return 0;
	}
	e->witness = pid;
	fd = open_mapped(t, pid, range, path);
	if (fd < 0 && (errno == ENOENT || errno == ESRCH)) {
		t->st.vanished++; /* the process exited meanwhile: the next one tells */
		file_forget(t, e);
		return 0;
	}
	if (fd < 0 || fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
		t->st.failed++;
		e->state = F_FAILED;
		if (fd >= 0)
			close(fd);
		file_known(t, e, dev, ino);
		return 1;
	}
	/* the same file under another key (overlayfs shows its own inode) */
	if ((same = file_lookup(t, sb.st_dev, sb.st_ino)) && same != e) {
		t->st.known++;
		file_forget(t, e);
		file_index(t, same, dev, ino);
		close(fd);
		file_known(t, same, dev, ino);
		return 1;
	}
	e->rdev = sb.st_dev;
	e->rino = sb.st_ino;
	file_index(t, e, sb.st_dev, sb.st_ino);
	file_examine(t, e, fd, path);
	close(fd);
	/* only now: a mapping of it meanwhile still unsettled its process */
	file_known(t, e, dev, ino);
	return 1;
}

/* ---- processes ---------------------------------------------------------- */

/* Every mapping of @pid read at @scan_ns was examined: the kernel side
 * stops counting its TLS sends as unprobed, and says how many it counted
 * (one line for the first few such processes; all are counted). */
static void settle(struct tlsattach *t, uint32_t pid, uint64_t scan_ns)
{
	uint64_t unseen;

	t->st.settled++;
	if (!t->settle || !(unseen = t->settle(t->ctx, pid, scan_ns)))
		return;
	if (++t->st.unprobed_procs <= 20)
		log_warn("TLS: process %u sent %llu TLS record%s before its TLS library was probed "
			 "(its first run): that plaintext was not seen%s", pid,
			 (unsigned long long)unseen, unseen == 1 ? "" : "s",
			 t->st.unprobed_procs == 20 ? "; further ones are only counted "
						       "(sensors.drops.tls_unprobed)" : "");
}

/* Every executable file mapping in /proc/PID/maps. */
static void scan_maps(struct tlsattach *t, uint32_t pid)
{
	char p[256], *line = NULL, range[64], perms[8];
	size_t cap = 0;
	unsigned maj, min;
	unsigned long ino;
	uint64_t scan_ns;
	int n, all = 1;
	FILE *f;

	snprintf(p, sizeof(p), "%s/%u/maps", t->o.procdir, pid);
	if (!(f = fopen(p, "re"))) {
		t->st.vanished++;
		return;
	}
	t->st.scans++;
	scan_ns = util_now_ns(CLOCK_MONOTONIC);
	while (getline(&line, &cap, f) > 0) {
		char *path;

		n = 0;
		if (sscanf(line, "%63[0-9a-f-] %7s %*s %x:%x %lu %n", range, perms, &maj, &min, &ino,
			   &n) != 5 || !n || perms[2] != 'x' || !ino)
			continue;
		path = line + n;
		path[strcspn(path, "\n")] = 0;
		if (path[0] != '/')
			continue;
		all &= see_mapping(t, pid, range, makedev(maj, min), ino, path);
	}
	free(line);
	fclose(f);
	if (all)
		settle(t, pid, scan_ns);
}

/* One maps read, if the budget allows: 1 when read or tried. */
static int budget_take(struct tlsattach *t, uint64_t now)
{
	if (now > t->refill_ns) {
		t->tokens += (double)(now - t->refill_ns) * t->o.scans_per_sec / 1e9;
		if (t->tokens > t->o.scans_per_sec)
			t->tokens = t->o.scans_per_sec;
		t->refill_ns = now;
	}
	if (t->tokens < 1) {
		t->st.scans_skipped++;
		return 0;
	}
	t->tokens -= 1;
	return 1;
}

static void enqueue(struct tlsattach *t, int stage, uint32_t tgid, uint64_t due)
{
	struct rescan *r;

	if (t->qlen[stage] == QUEUE_CAP) {
		t->st.scans_skipped++;
		return;
	}
	r = &t->q[stage][(t->qhead[stage] + t->qlen[stage]++) % QUEUE_CAP];
	r->tgid = tgid;
	r->due = due;
}

void tlsattach_mapped(struct tlsattach *t, uint32_t tgid, uint64_t now_ns)
{
	if (!t)
		return;
	t->st.map_records++;
	if (budget_take(t, now_ns))
		scan_maps(t, tgid);
}

void tlsattach_set_hooks(struct tlsattach *t, tlsattach_known_fn known, tlsattach_settle_fn settle)
{
	if (!t)
		return;
	t->known = known;
	t->settle = settle;
	/* what is examined already (the start's files) */
	for (unsigned i = 0; known && i < t->nslots; i++)
		if (t->slots[i].ent > 0)
			known(t->ctx, t->slots[i].dev, t->slots[i].ino, 1);
}

void tlsattach_exec(struct tlsattach *t, uint32_t tgid, uint64_t now_ns)
{
	if (!t)
		return;
	for (int s = 0; s < STAGES; s++)
		enqueue(t, s, tgid, now_ns + stage_delay_ns[s]);
}

int tlsattach_timeout_ms(const struct tlsattach *t, uint64_t now_ns, int max_ms)
{
	for (int s = 0; t && s < STAGES; s++) {
		uint64_t due;

		if (!t->qlen[s])
			continue;
		due = t->q[s][t->qhead[s]].due;
		if (due <= now_ns)
			return 0;
		if ((due - now_ns) / NS_MS < (uint64_t)max_ms)
			max_ms = (int)((due - now_ns + NS_MS - 1) / NS_MS);
	}
	return max_ms;
}

/* Whether a probed file is still someone's: its witness runs, or its
 * path still leads to it. */
static int file_alive(struct tlsattach *t, struct file_ent *e)
{
	char p[64];
	struct stat sb;

	if (e->witness) {
		snprintf(p, sizeof(p), "%s/%u", t->o.procdir, e->witness);
		if (stat(p, &sb) == 0)
			return 1;
		e->witness = 0;
	}
	return e->path && stat(e->path, &sb) == 0 &&
	       ((sb.st_dev == e->dev && sb.st_ino == e->ino) ||
		(sb.st_dev == e->rdev && sb.st_ino == e->rino));
}

static void check_files(struct tlsattach *t)
{
	for (unsigned i = 0; i < t->nents; i++) {
		struct file_ent *e = &t->ents[i];

		if (e->state != F_PROBED || file_alive(t, e))
			continue;
		log_info("TLS: %s is gone (deleted or replaced, no process known to map it): "
			 "its probes are removed", e->path ? e->path : "?");
		t->detach(t->ctx, e->handle);
		t->st.probed--;
		t->st.dropped++;
		file_forget(t, e);
	}
}

void tlsattach_run(struct tlsattach *t, uint64_t now_ns)
{
	if (!t)
		return;
	for (int s = 0; s < STAGES; s++)
		while (t->qlen[s] && t->q[s][t->qhead[s]].due <= now_ns) {
			uint32_t tgid = t->q[s][t->qhead[s]].tgid;

			t->qhead[s] = (t->qhead[s] + 1) % QUEUE_CAP;
			t->qlen[s]--;
			if (budget_take(t, now_ns))
				scan_maps(t, tgid);
		}
	if (now_ns - t->check_ns >= 1000 * NS_MS) {
		t->check_ns = now_ns;
		check_files(t);
	}
}

void tlsattach_path(struct tlsattach *t, const char *path)
{
	struct stat sb;

	if (t && stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
		(void)see_mapping(t, 0, NULL, sb.st_dev, sb.st_ino, path);
}

void tlsattach_sweep(struct tlsattach *t, uint64_t now_ns)
{
	struct dirent *d;
	DIR *dir;

	if (!t || !(dir = opendir(t->o.procdir)))
		return;
	t->check_ns = now_ns;
	while ((d = readdir(dir))) {
		char *end;
		unsigned long pid = strtoul(d->d_name, &end, 10);

		if (*end || !pid || pid > UINT32_MAX || pid == (unsigned long)getpid())
			continue;
		scan_maps(t, (uint32_t)pid);
	}
	closedir(dir);
}

struct tlsattach *tlsattach_new(const struct tlsattach_opts *o, tlsattach_attach_fn attach,
				tlsattach_detach_fn detach, void *ctx)
{
	struct tlsattach *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->o = *o;
	if (!t->o.procdir)
		t->o.procdir = "/proc";
	if (!t->o.max_files)
		t->o.max_files = 4096;
	if (!t->o.max_probed)
		t->o.max_probed = 256;
	if (!t->o.scans_per_sec)
		t->o.scans_per_sec = 1000;
	t->tokens = t->o.scans_per_sec;
	for (t->nslots = 16; t->nslots < 2 * t->o.max_files; t->nslots <<= 1)
		;
	t->attach = attach;
	t->detach = detach;
	t->ctx = ctx;
	t->ents = calloc(t->o.max_files, sizeof(*t->ents));
	t->slots = calloc(t->nslots, sizeof(*t->slots));
	if (!t->ents || !t->slots) {
		tlsattach_free(t);
		return NULL;
	}
	return t;
}

void tlsattach_get_stats(const struct tlsattach *t, struct tlsattach_stats *s)
{
	if (t)
		*s = t->st;
	else
		memset(s, 0, sizeof(*s));
}

const char *tlsattach_probed_path(const struct tlsattach *t, unsigned i)
{
	for (unsigned k = 0; t && k < t->nents; k++)
		if (t->ents[k].state == F_PROBED && i-- == 0)
			return t->ents[k].path ? t->ents[k].path : "?";
	return NULL;
}

void tlsattach_free(struct tlsattach *t)
{
	if (!t)
		return;
	for (unsigned i = 0; t->ents && i < t->nents; i++) {
		if (t->ents[i].state == F_PROBED)
			t->detach(t->ctx, t->ents[i].handle);
		free(t->ents[i].path);
	}
	free(t->ents);
	free(t->slots);
	free(t);
}
