/*
 * Records arrive from the kernel; their lengths are checked here before any
 * field is trusted, because a truncated or malformed record must never
 * make the controller read past what it was given.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/un.h>
#include <string.h>
#include "sensors/event.h"
#include "detect/redact.h"
#include "lib/util.h"

int event_validate(const void *rec, size_t len)
{
	const struct tw_hdr *h = rec;

	if (len < sizeof(*h))
		return -EINVAL;
	switch (h->type) {
	case TW_EV_EXEC: {
		const struct tw_exec_event *e = rec;
		if (len < sizeof(*e) ||
		    (uint64_t)e->path_len + e->args_len + e->env_len > len - sizeof(*e))
			return -EINVAL;
		return 0;
	}
	case TW_EV_FILE_WRITE:
	case TW_EV_SOCK_SEND: {
		const struct tw_io_event *e = rec;
		size_t head = sizeof(*e) + (h->type == TW_EV_SOCK_SEND ? sizeof(struct tw_sock_info) : 0);
		if (len < head || e->data_len > len - head || e->cap_len > TW_CAP_LIMIT ||
		    (uint64_t)e->chunk_off + e->data_len > e->cap_len)
			return -EINVAL;
		return 0;
	}
	case TW_EV_FILE_PATH: {
		const struct tw_path_event *e = rec;
		if (len < sizeof(*e) || e->path_len > len - sizeof(*e))
			return -EINVAL;
		return 0;
	}
	case TW_EV_CONNECT:
		return len < sizeof(struct tw_conn_event) ? -EINVAL : 0;
	case TW_EV_FORK:
		return len < sizeof(struct tw_fork_event) ? -EINVAL : 0;
	case TW_EV_FILE_TAIL:
		return len < sizeof(struct tw_tail_event) ? -EINVAL : 0;
	case TW_EV_SOCK_BATCH:
		return len < sizeof(struct tw_batch_event) ? -EINVAL : 0;
	case TW_EV_TLS_BIND: {
		const struct tw_tls_bind_event *e = rec;
		if (len < sizeof(*e) || e->n > TW_TLS_NOTES)
			return -EINVAL;
		return 0;
	}
	case TW_EV_EXIT:
		return len < sizeof(struct tw_exit_event) ? -EINVAL : 0;
	default:
		return -ENOTSUP;
	}
}

void event_add_hdr(cJSON *o, const struct tw_hdr *h, int64_t boot_to_real)
{
	char ts[40], comm[TW_COMM_LEN + 1];
	char *safe;

	util_rfc3339(h->ts_boot_ns + boot_to_real, ts, sizeof(ts));
	memcpy(comm, h->comm, TW_COMM_LEN);
	comm[TW_COMM_LEN] = 0;
	safe = redact_text(comm, strlen(comm));
	cJSON_AddStringToObject(o, "time", ts);
	cJSON_AddNumberToObject(o, "pid", h->tgid);
	cJSON_AddNumberToObject(o, "tid", h->pid);
	cJSON_AddNumberToObject(o, "ppid", h->ppid);
	cJSON_AddNumberToObject(o, "uid", h->uid);
	cJSON_AddStringToObject(o, "comm", safe ? safe : "");
	cJSON_AddNumberToObject(o, "cgroup_id", (double)h->cgroup_id);
	free(safe);
}

/* Split NUL-separated strings into a JSON array, each one redacted. */
static cJSON *strings_array(const char *p, size_t n, size_t max, int *cut)
{
	cJSON *arr = cJSON_CreateArray();
	size_t i = 0, count = 0;

	while (i < n) {
		const char *end = memchr(p + i, 0, n - i);
		size_t len = end ? (size_t)(end - (p + i)) : n - i;

		if (count == max) {
			*cut = 1;
			break;
		}
		char *safe = redact_text(p + i, len);
		cJSON_AddItemToArray(arr, cJSON_CreateString(safe ? safe : ""));
		free(safe);
		count++;
		i += len + 1;
	}
	return arr;
}

static cJSON *exec_to_json(const struct tw_exec_event *e, int64_t boot_to_real)
{
	cJSON *o = cJSON_CreateObject();
	const char *args = e->data + e->path_len;
	int cut = (e->hdr.flags & TW_F_ARGS_TRUNC) != 0;
	char *exe = redact_text(e->data, e->path_len ? strnlen(e->data, e->path_len) : 0);

	event_add_hdr(o, &e->hdr, boot_to_real);
	cJSON_AddStringToObject(o, "event", "exec");
	cJSON_AddStringToObject(o, "exe", exe ? exe : "");
	free(exe);
	if (e->hdr.flags & TW_F_PATH_TRUNC)
		cJSON_AddBoolToObject(o, "exe_truncated", 1);
	cJSON_AddItemToObject(o, "argv", strings_array(args, e->args_len, EVENT_ARGV_MAX, &cut));
	cJSON_AddBoolToObject(o, "argv_truncated", cut);
	cJSON_AddNumberToObject(o, "env_bytes", e->env_full_len);
	if (e->hdr.flags & TW_F_READ_FAIL)
		cJSON_AddBoolToObject(o, "read_failed", 1);
	return o;
}

cJSON *event_to_json(const void *rec, size_t len, int64_t boot_to_real)
{
	const struct tw_hdr *h = rec;

	if (event_validate(rec, len))
		return NULL;
	switch (h->type) {
	case TW_EV_EXEC:
		return exec_to_json(rec, boot_to_real);
	default:
		return NULL;
	}
}

const char *event_syscall_name(int sc)
{
	static const char *const names[TW_SC_MAX] = {
		[TW_SC_WRITE] = "write", [TW_SC_PWRITE64] = "pwrite64", [TW_SC_WRITEV] = "writev",
		[TW_SC_PWRITEV] = "pwritev", [TW_SC_PWRITEV2] = "pwritev2", [TW_SC_SENDTO] = "sendto",
		[TW_SC_SENDMSG] = "sendmsg", [TW_SC_SENDMMSG] = "sendmmsg",
		[TW_SC_SSL_WRITE] = "SSL_write", [TW_SC_GNUTLS_SEND] = "gnutls_record_send",
		[TW_SC_GO_TLS_WRITE] = "crypto/tls.Write",
	};
	return sc > 0 && sc < TW_SC_MAX && names[sc] ? names[sc] : "unknown";
}

void event_addr_str(const struct sockaddr_storage *ss, char *out, size_t outsz)
{
	char ip[INET6_ADDRSTRLEN];

	switch (ss->ss_family) {
	case AF_INET: {
		const struct sockaddr_in *s = (const void *)ss;
		inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
		snprintf(out, outsz, "%s:%u", ip, ntohs(s->sin_port));
		return;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *s = (const void *)ss;
		inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
		snprintf(out, outsz, "[%s]:%u", ip, ntohs(s->sin6_port));
		return;
	}
	case AF_UNIX: {
		const struct sockaddr_un *s = (const void *)ss;
		/* abstract names start with NUL; shown with a leading '@' */
		if (s->sun_path[0])
			snprintf(out, outsz, "unix:%.*s", (int)sizeof(s->sun_path), s->sun_path);
		else if (s->sun_path[1])
			snprintf(out, outsz, "unix:@%.*s", (int)sizeof(s->sun_path) - 1, s->sun_path + 1);
		else
			snprintf(out, outsz, "unix:");
		return;
	}
	default:
		snprintf(out, outsz, "%s", "");
	}
}

static const char *family_name(int f)
{
	return f == AF_INET ? "inet" : f == AF_INET6 ? "inet6" : f == AF_UNIX ? "unix" : "other";
}

static const char *socktype_name(int t)
{
	return t == SOCK_STREAM ? "stream" : t == SOCK_DGRAM ? "dgram" :
	       t == SOCK_SEQPACKET ? "seqpacket" : t == SOCK_RAW ? "raw" : "other";
}

static void add_redacted(cJSON *o, const char *key, const char *s)
{
	char *safe = s ? redact_text(s, strlen(s)) : NULL;

	cJSON_AddStringToObject(o, key, safe ? safe : "");
	free(safe);
}

static void add_sock(cJSON *o, int family, int type, const struct sockaddr_storage *local,
		     const struct sockaddr_storage *peer)
{
	char buf[160];

	cJSON_AddStringToObject(o, "family", family_name(family));
	cJSON_AddStringToObject(o, "sock_type", socktype_name(type));
	event_addr_str(local, buf, sizeof(buf));
	add_redacted(o, "local", buf);
	event_addr_str(peer, buf, sizeof(buf));
	add_redacted(o, "peer", buf);
}

cJSON *event_capture_to_json(const struct capture *c, int64_t boot_to_real)
{
	cJSON *o = cJSON_CreateObject();

	event_add_hdr(o, c->hdr, boot_to_real);
	switch (c->kind) {
	case CAP_FILE_WRITE:
		cJSON_AddStringToObject(o, "event", "file_write");
		break;
	case CAP_SOCK_SEND:
		cJSON_AddStringToObject(o, "event", "sock_send");
		break;
	case CAP_EXEC_ARGV:
		cJSON_AddStringToObject(o, "event", c->from_sweep ? "proc_argv" : "exec_argv");
		break;
	case CAP_EXEC_ENV:
		cJSON_AddStringToObject(o, "event", c->from_sweep ? "proc_env" : "exec_env");
		break;
	}
	if (c->kind == CAP_FILE_WRITE || c->kind == CAP_SOCK_SEND) {
		cJSON_AddStringToObject(o, "syscall", event_syscall_name(c->syscall));
		cJSON_AddNumberToObject(o, "fd", c->fd);
	}
	if (c->proc && c->proc->exe)
		add_redacted(o, "exe", c->proc->exe);
	if (c->kind == CAP_FILE_WRITE) {
		add_redacted(o, "path", c->path);
		if (c->path_truncated)
			cJSON_AddBoolToObject(o, "path_truncated", 1);
	} else if (c->kind == CAP_SOCK_SEND) {
		add_sock(o, c->family, c->sock_type, &c->local, &c->peer);
		if (c->peer_from_call)
			cJSON_AddBoolToObject(o, "peer_from_call", 1);
	}
	cJSON_AddNumberToObject(o, "bytes", (double)c->total_len);
	cJSON_AddNumberToObject(o, "captured", (double)(c->len - c->carry));
	cJSON_AddBoolToObject(o, "truncated", c->truncated);
	if (c->carry)
		cJSON_AddNumberToObject(o, "carry", (double)c->carry);
	if (c->read_failed)
		cJSON_AddBoolToObject(o, "read_failed", 1);
	if (c->read_back)
		cJSON_AddBoolToObject(o, "read_back", 1);
	if (c->batched)
		cJSON_AddBoolToObject(o, "batched", 1);
	return o;
}

cJSON *event_conn_to_json(const struct conn_event *c, int64_t boot_to_real)
{
	cJSON *o = cJSON_CreateObject();

	event_add_hdr(o, c->hdr, boot_to_real);
	cJSON_AddStringToObject(o, "event", "connect");
	cJSON_AddNumberToObject(o, "fd", c->fd);
	if (c->proc && c->proc->exe)
		add_redacted(o, "exe", c->proc->exe);
	add_sock(o, c->family, c->sock_type, &c->local, &c->peer);
	if (c->ret)
		cJSON_AddBoolToObject(o, "in_progress", 1);
	return o;
}
