/*
 * Records arrive from the kernel; their lengths are checked here before any
 * field is trusted, because a truncated or malformed record must never
 * make the controller read past what it was given.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "event.h"
#include "redact.h"
#include "util.h"

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
