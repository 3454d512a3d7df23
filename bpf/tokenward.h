/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Event records shared by the BPF sensors and the userspace controller.
 * Kernel and userspace both include this file, so it uses only fixed-width
 * types and no kernel or libc headers. Every record starts with
 * struct tw_hdr; `type` says which struct follows.
 */
#ifndef TOKENWARD_H
#define TOKENWARD_H

#define TW_COMM_LEN     16
#define TW_PATH_MAX     4096   /* resolved path bytes kept per event */
#define TW_PATH_DEPTH   32     /* dentry components walked before giving up */
#define TW_EXEC_ARGS_MAX 16384 /* argv bytes kept per exec */
#define TW_EXEC_ENV_MAX  16384 /* envp bytes kept per exec */

enum tw_event_type {
	TW_EV_EXEC = 1,
};

/* Flags on any event: something was cut or could not be read. */
enum tw_event_flags {
	TW_F_PATH_TRUNC  = 1u << 0, /* path longer than TW_PATH_MAX or deeper than TW_PATH_DEPTH */
	TW_F_ARGS_TRUNC  = 1u << 1, /* argv longer than TW_EXEC_ARGS_MAX */
	TW_F_ENV_TRUNC   = 1u << 2, /* envp longer than TW_EXEC_ENV_MAX */
	TW_F_READ_FAIL   = 1u << 3, /* a bpf_probe_read_* failed; content incomplete */
};

/* Why an event was dropped or cut; indexes the per-CPU `drops` map. */
enum tw_drop_reason {
	TW_DROP_RINGBUF_FULL = 0, /* bpf_ringbuf_output failed: event lost */
	TW_DROP_READ_FAIL,        /* user or kernel memory unreadable */
	TW_DROP_PATH_TRUNC,       /* path cut */
	TW_DROP_ARGS_TRUNC,       /* exec argv/envp cut */
	TW_DROP_MAX,
};

struct tw_hdr {
	unsigned int type;
	unsigned int flags;
	unsigned long long ts_boot_ns; /* bpf_ktime_get_boot_ns() */
	unsigned int pid;  /* thread id */
	unsigned int tgid; /* process id */
	unsigned int ppid; /* parent's tgid */
	unsigned int uid;
	unsigned long long cgroup_id;
	unsigned long long start_boot_ns; /* process start: tells a reused pid apart */
	char comm[TW_COMM_LEN];
};

/*
 * Exec: emitted from sched_process_exec, after the new image is in place,
 * so a failed execve() never produces one. data[] holds, back to back:
 * the resolved exe path (path_len bytes, NUL-terminated), argv
 * (args_len bytes, NUL-separated), then envp (env_len bytes).
 */
struct tw_exec_event {
	struct tw_hdr hdr;
	unsigned int path_len;
	unsigned int args_len;
	unsigned int env_len;
	unsigned int args_full_len; /* argv length before cutting */
	unsigned int env_full_len;  /* envp length before cutting */
	unsigned int pad;
	char data[];
};

#define TW_EXEC_DATA_MAX (TW_PATH_MAX + TW_EXEC_ARGS_MAX + TW_EXEC_ENV_MAX)

#endif /* TOKENWARD_H */
