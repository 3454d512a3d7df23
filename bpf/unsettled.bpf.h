/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Processes whose TLS libraries may not be probed yet (bpf/tokenward.h
 * "The first run of a TLS library new to the monitor"): the files
 * userspace has examined, the processes that mapped another one since
 * their maps were last read, and the count of them that keeps every
 * socket send of a quiet host to one load.
 */
#ifndef TW_UNSETTLED_BPF_H
#define TW_UNSETTLED_BPF_H

#include "common.bpf.h"

/* Files userspace has examined for TLS functions (user/sensors/monitor.c
 * fills it from tlsattach.c's table): their mappings need nothing. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TW_TLS_KNOWN_MAX);
	__type(key, struct tw_file_key);
	__type(value, __u8);
} tls_known SEC(".maps") __weak;

/* By tgid. Plain hash, not LRU: tw_unsettled_n counts its entries, and
 * an eviction would not say so. Deleted only here (exit, grace over). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TW_TLS_UNSETTLED_MAX);
	__type(key, __u32);
	__type(value, struct tw_unsettled);
} tls_unsettled SEC(".maps") __weak;

/* TW_EV_MAP_NEW records, apart from the events ring: userspace drains
 * this one between any two records of the other, so a new library's
 * maps read does not wait behind a backlog of captures. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 << 10);
} tls_ctl SEC(".maps") __weak;

/* Entries in tls_unsettled; 0 lets every send skip the lookup. */
__u64 tw_unsettled_n __weak = 0;

/* Whether the kernel sends TLS first-run hints: the TLS sensor is on
 * (without it tls_known stays empty and every process would unsettle). */
const volatile __u32 tw_tls_first_on __weak = 0;

/* @tgid mapped a file not examined: unsettled from @now (again). */
static __always_inline void tw_unsettle(__u32 tgid, __u64 now)
{
	struct tw_unsettled *u = bpf_map_lookup_elem(&tls_unsettled, &tgid), fresh = {};

	if (u) {
		u->flag_ts = now;
		u->grace_until = 0;
		return;
	}
	fresh.flag_ts = now;
	if (!bpf_map_update_elem(&tls_unsettled, &tgid, &fresh, BPF_NOEXIST))
		__sync_fetch_and_add(&tw_unsettled_n, 1);
	else if ((u = bpf_map_lookup_elem(&tls_unsettled, &tgid))) /* another thread, just now */
		u->flag_ts = now;
}

/* Whether the file behind @ino is one userspace examined. */
static __always_inline bool tw_file_known(struct inode *ino, struct tw_file_key *k)
{
	k->dev = BPF_CORE_READ(ino, i_sb, s_dev);
	k->ino = BPF_CORE_READ(ino, i_ino);
	return bpf_map_lookup_elem(&tls_known, k) != NULL;
}

/* Tell userspace at once: @tgid maps the file @k, never examined. A lost
 * one is counted; the process stays unsettled and its exec's reads
 * follow. */
static __always_inline void tw_map_new(const struct tw_file_key *k)
{
	struct tw_map_event e;

	tw_fill_hdr(&e.hdr, TW_EV_MAP_NEW);
	e.file = *k;
	if (bpf_ringbuf_output(&tls_ctl, &e, sizeof(e), BPF_RB_FORCE_WAKEUP))
		tw_count_drop(TW_DROP_META_LOST);
}

static __always_inline void tw_unsettled_forget(__u32 tgid)
{
	if (tw_unsettled_n && !bpf_map_delete_elem(&tls_unsettled, &tgid))
		__sync_fetch_and_add(&tw_unsettled_n, -1);
}

#endif
