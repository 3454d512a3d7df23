/*
 * Status providers and the status file. A provider is a function that
 * fills one JSON object; the registry is fixed-size because modules
 * register once at startup.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "lib/safefile.h"
#include "lib/status.h"
#include "lib/util.h"

static struct {
	const char *name;
	status_fill_fn fn;
	void *ctx;
} providers[STATUS_MAX_PROVIDERS];
static int nproviders;

int status_add_provider(const char *name, status_fill_fn fn, void *ctx)
{
	for (int i = 0; i < nproviders; i++)
		if (!strcmp(providers[i].name, name))
			return -EEXIST;
	if (nproviders == STATUS_MAX_PROVIDERS)
		return -ENOSPC;
	providers[nproviders].name = name;
	providers[nproviders].fn = fn;
	providers[nproviders].ctx = ctx;
	nproviders++;
	return 0;
}

void status_clear_providers(void)
{
	nproviders = 0;
}

cJSON *status_build(int running, unsigned long long started_ns)
{
	cJSON *o = cJSON_CreateObject();
	char ts[40];

	cJSON_AddNumberToObject(o, "version", 1);
	cJSON_AddNumberToObject(o, "pid", getpid());
	cJSON_AddBoolToObject(o, "running", running);
	util_rfc3339(util_now_ns(CLOCK_REALTIME), ts, sizeof(ts));
	cJSON_AddStringToObject(o, "updated", ts);
	if (started_ns) {
		util_rfc3339(started_ns, ts, sizeof(ts));
		cJSON_AddStringToObject(o, "started", ts);
	}
	for (int i = 0; i < nproviders; i++) {
		cJSON *sec = cJSON_CreateObject();
		providers[i].fn(providers[i].ctx, sec);
		cJSON_AddItemToObject(o, providers[i].name, sec);
	}
	return o;
}

int status_write(const char *dir, int running, unsigned long long started_ns)
{
	char path[4096];
	cJSON *o = status_build(running, started_ns);
	char *text = cJSON_Print(o);
	size_t n;
	int r;

	cJSON_Delete(o);
	if (!text)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/%s", dir, STATUS_FILE);
	n = strlen(text);
	text[n] = '\n'; /* over the NUL: the length is known */
	/* A fresh temporary file renamed over the old one: readers never see
	 * half of it, and no name in the directory is written through. No
	 * fsync: it is rewritten every second and means nothing after a crash. */
	r = safefile_replace(path, text, n + 1, 0640, SAFEFILE_NOSYNC, NULL, 0);
	free(text);
	return r;
}

/* A pid is signalled to see whether the monitor runs: kill(-1) or
 * kill(0) would "find" one, and a double outside int is undefined
 * behaviour to convert. Absent is fine (an old writer); wrong is not. */
static bool status_pid_valid(const cJSON *pid)
{
	if (!pid)
		return true;
	return cJSON_IsNumber(pid) && pid->valuedouble >= 1 && pid->valuedouble <= INT_MAX &&
	       pid->valuedouble == (double)(int)pid->valuedouble;
}

int status_read(const char *dir, cJSON **out, char *err, size_t errsz)
{
	char path[4096];
	char *buf;
	size_t n;
	int r;

	*out = NULL;
	if (err && errsz)
		err[0] = 0;
	/* Only a directory nobody else can write holds a status worth showing:
	 * another user could forge one in any other. */
	if ((r = safefile_check_dir(dir, "state directory", err, errsz)))
		return r;
	snprintf(path, sizeof(path), "%s/%s", dir, STATUS_FILE);
	/* A FIFO in its place must not stall `tokenward status`. */
	if ((r = safefile_read_all(path, 0, 16 << 20, &buf, &n, err, errsz)))
		return r;
	*out = cJSON_ParseWithLength(buf, n);
	free(buf);
	if (!*out || !cJSON_IsObject(*out)) {
		cJSON_Delete(*out);
		*out = NULL;
		snprintf(err, errsz, "%s is not a status object (not JSON)", path);
		return -EINVAL;
	}
	if (!status_pid_valid(cJSON_GetObjectItemCaseSensitive(*out, "pid"))) {
		cJSON_Delete(*out);
		*out = NULL;
		snprintf(err, errsz, "%s is malformed: 'pid' is not a process id (1..%d)", path, INT_MAX);
		return -EINVAL;
	}
	return 0;
}
