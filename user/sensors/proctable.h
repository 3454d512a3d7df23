/*
 * The process table: every live process's parent, uid, exe, cgroup and
 * start time, kept from the sensors' fork/exec/exit records and from
 * every event header, seeded from /proc once at start. A pid is only ever
 * matched together with its start time, so a pid the kernel reuses is
 * never mistaken for the process that had it before.
 */
#ifndef TW_PROCTABLE_H
#define TW_PROCTABLE_H

#include <stddef.h>
#include <stdint.h>
#include "tokenward.h"

struct proc_info {
	uint32_t tgid;
	uint32_t ppid;
	uint32_t uid;
	uint64_t start_ns;  /* CLOCK_BOOTTIME ns of process start */
	uint64_t cgroup_id; /* cgroup v2 id */
	char comm[TW_COMM_LEN + 1];
	char *exe;          /* resolved executable path; NULL when unknown */
	int exited;         /* its exit was seen; kept briefly for late events */
	uint64_t exit_ns;
	int approx_start;   /* start_ns came from /proc, which counts in clock ticks */
};

/* Whole-table lifetime. proctable_reset() frees every entry. */
void proctable_reset(void);
size_t proctable_count(void);

/* The entry for tgid, or NULL. */
const struct proc_info *proctable_lookup(uint32_t tgid);

/* 1 when ancestor_tgid is a strict ancestor of tgid, by the parent chain
 * as tracked. A link whose parent started after its child is a reused pid
 * and ends the walk. */
int proctable_is_descendant(uint32_t tgid, uint32_t ancestor_tgid);

/* Feeding the table. Each returns the (new or updated) entry or NULL on
 * allocation failure. */
const struct proc_info *proctable_note_hdr(const struct tw_hdr *h);
const struct proc_info *proctable_note_fork(const struct tw_fork_event *e);
const struct proc_info *proctable_note_exec(const struct tw_hdr *h, const char *exe);
void proctable_note_exit(const struct tw_hdr *h, uint64_t now_boot_ns);
/* Seed from /proc: approx_start is set, start_ns is in whole clock ticks. */
const struct proc_info *proctable_note_proc(uint32_t tgid, uint32_t ppid, uint32_t uid,
					    uint64_t start_ns, uint64_t cgroup_id,
					    const char *comm, const char *exe);

/* Forget processes that exited more than grace_ns before now. */
void proctable_expire(uint64_t now_boot_ns, uint64_t grace_ns);

#endif
