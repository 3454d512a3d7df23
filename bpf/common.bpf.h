/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Maps and helpers shared by every sensor. Each sensor is its own .bpf.c
 * file; the Makefile links them into one object with `bpftool gen object`,
 * so the maps here are __weak: every file sees the same definition and the
 * linker keeps one copy.
 */
#ifndef TW_COMMON_BPF_H
#define TW_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "tokenward.h"

/* Size set from userspace before load (--ringbuf-size). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps") __weak;

/* Per-CPU loss counters, one slot per enum tw_drop_reason. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TW_DROP_MAX);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps") __weak;

/*
 * Scratch space for building a record before it goes to the ring buffer.
 * Per-CPU array values are capped at 32 KiB, so this is a plain array
 * with one slot per CPU (max_entries set from userspace to the CPU count).
 * Tracepoint programs do not migrate CPUs while running, so a slot is ours
 * for the life of one program run.
 */
#define TW_SCRATCH_SIZE (sizeof(struct tw_exec_event) + TW_EXEC_DATA_MAX + 8192)
struct tw_scratch {
	char buf[TW_SCRATCH_SIZE];
};
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tw_scratch);
} scratch SEC(".maps") __weak;

_Static_assert(TW_SCRATCH_SIZE >= sizeof(struct tw_io_event) + sizeof(struct tw_sock_info) +
	       2 * TW_CAP_CHUNK, "scratch too small for an io chunk");

/* When tw_filter_cgroup is set, only tasks inside the cgroup v2 in slot 0
 * (or below it) are traced: the monitor can watch one container or one
 * agent's cgroup and nothing else. */
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} cgroup_filter SEC(".maps") __weak;

/* tokenward's own tgid: its output must never loop back into it. */
const volatile __u32 tw_self_tgid __weak = 0;
const volatile __u32 tw_filter_cgroup __weak = 0;
/* Bytes captured per write/send (at most TW_CAP_LIMIT). */
const volatile __u32 tw_cap_max __weak = TW_CAP_DEFAULT;
/* Capture writes to pipes, ttys and character devices too (off: files and sockets only). */
const volatile __u32 tw_cap_other __weak = 0;
/* Send a file's path once per open file rather than on every write. */
const volatile __u32 tw_path_cache __weak = 1;
/* Mixed into file ids so kernel addresses do not reach userspace. */
const volatile __u64 tw_id_key __weak = 0;

/* Read sequential file writes back from the page cache (bpf/filetail.bpf.h). */
const volatile __u32 tw_tail_on __weak = 0;
/* Batch small sends on stream sockets in shared slots (bpf/sockbatch.bpf.h). */
const volatile __u32 tw_batch_on __weak = 0;

/* Whether to wake the reader on every record or let it batch. */
const volatile __u32 tw_wakeup_bytes __weak = 0;

static __always_inline void tw_count_drop(__u32 reason)
{
	__u64 *v = bpf_map_lookup_elem(&drops, &reason);
	if (v)
		*v += 1;
}

static __always_inline void *tw_scratch_get(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	return bpf_map_lookup_elem(&scratch, &cpu);
}

/*
 * Fields come from the current task through its BTF pointer: direct loads
 * (fault-safe, one instruction each) instead of a helper call per field.
 * On a write-heavy host the header is filled on every captured write, and
 * the helpers (uid_gid, cgroup_id, comm's bounded string copy) cost more
 * than the loads they wrap: ~150 ns per captured write (docs/SENSORS.md).
 * comm is copied as two 8-byte loads; the kernel keeps it NUL-terminated
 * within TW_COMM_LEN, and userspace never relies on the NUL anyway.
 */
static __always_inline void tw_fill_hdr(struct tw_hdr *h, __u32 type)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 *comm = (__u64 *)h->comm;

	h->type = type;
	h->flags = 0;
	h->ts_boot_ns = bpf_ktime_get_boot_ns();
	h->pid = task->pid;
	h->tgid = task->tgid;
	h->ppid = task->real_parent->tgid;
	h->uid = task->cred->uid.val;
	h->cgroup_id = task->cgroups->dfl_cgrp->kn->id;
	h->start_boot_ns = task->group_leader->start_boottime;
	comm[0] = *(__u64 *)&task->comm[0];
	comm[1] = *(__u64 *)&task->comm[8];
}

/* Whether @task is one we capture: not ourselves, and inside the watched
 * cgroup when one is set. The tgid is a direct load from the task. */
static __always_inline bool tw_wanted_task(struct task_struct *task)
{
	if ((__u32)task->tgid == tw_self_tgid)
		return false;
	if (tw_filter_cgroup && bpf_current_task_under_cgroup(&cgroup_filter, 0) != 1)
		return false;
	return true;
}

static __always_inline bool tw_wanted(void)
{
	return tw_wanted_task(bpf_get_current_task_btf());
}

/*
 * Send a built record. Wakeups are batched: the reader is woken once, by
 * the record that takes the queued bytes across tw_wakeup_bytes, and
 * otherwise finds the records on its next poll timeout. Waking on every
 * record costs a context switch per write() on busy hosts; so does waking
 * on every record *above* the threshold, which is what happens while the
 * woken reader is still being scheduled: each forced wakeup queues an
 * irq_work (a self-IPI, a VM exit in a guest). Measured: ~1.7 us per send
 * on redis, 0.4-1 us per log line (docs/SENSORS.md). A reader that finds more queued after
 * draining sees the ring readable again in epoll (level-triggered), so
 * nothing waits for the poll timeout but stragglers below the threshold.
 */
static __always_inline int tw_emit_flags(void *rec, __u64 size, __u32 drop_reason, bool wake)
{
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (wake || tw_wakeup_bytes == 0) {
		flags = BPF_RB_FORCE_WAKEUP;
	} else {
		__u64 queued = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);

		if (queued < tw_wakeup_bytes && queued + size >= tw_wakeup_bytes)
			flags = BPF_RB_FORCE_WAKEUP;
	}
	if (bpf_ringbuf_output(&events, rec, size, flags)) {
		tw_count_drop(drop_reason);
		return -1;
	}
	return 0;
}

static __always_inline int tw_emit_as(void *rec, __u64 size, __u32 drop_reason)
{
	return tw_emit_flags(rec, size, drop_reason, false);
}

static __always_inline int tw_emit(void *rec, __u64 size)
{
	return tw_emit_as(rec, size, TW_DROP_RINGBUF_FULL);
}

#endif /* TW_COMMON_BPF_H */
