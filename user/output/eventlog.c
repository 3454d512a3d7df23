/* The event stream of `tokenward run` (see eventlog.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/safefile.h"
#include "output/eventlog.h"
#include "sensors/event.h"

#define MAX_HITS_PER_LITERAL 8

struct eventlog {
	struct eventlog_opts o;
	FILE *sinks[EVENTLOG_MAX_SINKS];
	int nsinks;
	size_t literal_len[EVENTLOG_MAX_LITERALS];
	size_t literal_max;
	cJSON *exec_hits;    /* hits of the exec record being handled */
	uint64_t lines;
};

int eventlog_open(const struct eventlog_opts *o, struct eventlog **out, char *err, size_t errsz)
{
	struct eventlog *el = calloc(1, sizeof(*el));

	*out = NULL;
	if (!el) {
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	el->o = *o;
	for (int i = 0; i < o->nliterals; i++) {
		el->literal_len[i] = strlen(o->literals[i]);
		if (el->literal_len[i] > el->literal_max)
			el->literal_max = el->literal_len[i];
	}
	for (int i = 0; i < o->npaths; i++) {
		/* Never through a link, never into a file with other hard links;
		 * /dev/null is fine. */
		char msg[512];
		FILE *f = strcmp(o->paths[i], "-")
			  ? safefile_fopen_append(o->paths[i], SAFEFILE_DEVICE, 0644, msg, sizeof(msg))
			  : stdout;

		if (!f) {
			int r = -errno;
			snprintf(err, errsz, "cannot open events output: %s", msg);
			eventlog_close(el);
			return r;
		}
		el->sinks[el->nsinks++] = f;
	}
	*out = el;
	return 0;
}

void eventlog_emit(struct eventlog *el, cJSON *o)
{
	char *line = cJSON_PrintUnformatted(o);

	cJSON_Delete(o);
	if (!line)
		return;
	for (int i = 0; i < el->nsinks; i++) {
		fputs(line, el->sinks[i]);
		fputc('\n', el->sinks[i]);
	}
	free(line);
	el->lines++;
}

/* Hits of one literal, appended to *arr. */
static void literal_find(struct eventlog *el, int i, const struct capture *c, const char *where,
			 cJSON **arr)
{
	const unsigned char *p = c->data, *end = c->data + c->len;
	size_t n = el->literal_len[i];

	for (int hits = 0; p < end && hits < MAX_HITS_PER_LITERAL;) {
		const unsigned char *m = memmem(p, end - p, el->o.literals[i], n);
		long long off;
		cJSON *h;

		if (!m)
			break;
		p = m + 1;
		if ((size_t)(m - c->data) + n <= c->carry)
			continue;
		off = (long long)(m - c->data) - (long long)c->carry;
		h = cJSON_CreateObject();
		cJSON_AddNumberToObject(h, "index", i);
		cJSON_AddNumberToObject(h, "offset", (double)off);
		if (off < 0)
			cJSON_AddBoolToObject(h, "seam", 1);
		if (where)
			cJSON_AddStringToObject(h, "in", where);
		if (!*arr)
			*arr = cJSON_CreateArray();
		cJSON_AddItemToArray(*arr, h);
		hits++;
	}
}

/*
 * Where the watched literals sit in a capture. Offsets are relative to the
 * syscall's own buffer: a hit that starts in the carried tail of the
 * previous write has a negative offset and "seam":true. Hits wholly inside
 * the carry were reported with the previous write and are skipped.
 */
static cJSON *literal_hits(struct eventlog *el, const struct capture *c, const char *where)
{
	cJSON *arr = NULL;

	for (int i = 0; i < el->o.nliterals; i++)
		literal_find(el, i, c, where, &arr);
	return arr;
}

void eventlog_capture(struct eventlog *el, const struct capture *c)
{
	int exec_kind = c->kind == CAP_EXEC_ARGV || c->kind == CAP_EXEC_ENV;
	const char *where = exec_kind ? (c->kind == CAP_EXEC_ARGV ? "argv" : "env") : NULL;
	cJSON *hits = el->o.nliterals ? literal_hits(el, c, where) : NULL;
	cJSON *o, *h;

	/* A live exec is printed from its record, with these hits attached. */
	if (exec_kind && !c->from_sweep) {
		if (hits && !el->exec_hits)
			el->exec_hits = cJSON_CreateArray();
		while (hits && (h = cJSON_DetachItemFromArray(hits, 0)))
			cJSON_AddItemToArray(el->exec_hits, h);
		cJSON_Delete(hits);
		return;
	}
	if (!el->o.trace_io) {
		cJSON_Delete(hits);
		return;
	}
	o = event_capture_to_json(c, el->o.boot_to_real);
	if (hits)
		cJSON_AddItemToObject(o, "literals", hits);
	eventlog_emit(el, o);
}

void eventlog_connect(struct eventlog *el, const struct conn_event *c)
{
	if (el->o.trace_io)
		eventlog_emit(el, event_conn_to_json(c, el->o.boot_to_real));
}

void eventlog_record(struct eventlog *el, const void *rec, size_t len)
{
	const struct tw_hdr *h = rec;
	cJSON *o;

	if (h->type == TW_EV_EXEC && (o = event_to_json(rec, len, el->o.boot_to_real))) {
		if (el->exec_hits)
			cJSON_AddItemToObject(o, "literals", el->exec_hits);
		el->exec_hits = NULL;
		eventlog_emit(el, o);
	}
	cJSON_Delete(el->exec_hits);
	el->exec_hits = NULL;
}

size_t eventlog_literal_max(const struct eventlog *el)
{
	return el->literal_max;
}

uint64_t eventlog_count(const struct eventlog *el)
{
	return el->lines;
}

void eventlog_flush(struct eventlog *el)
{
	for (int i = 0; i < el->nsinks; i++)
		fflush(el->sinks[i]);
}

void eventlog_close(struct eventlog *el)
{
	if (!el)
		return;
	cJSON_Delete(el->exec_hits);
	for (int i = 0; i < el->nsinks; i++) {
		fflush(el->sinks[i]);
		if (el->sinks[i] != stdout)
			fclose(el->sinks[i]);
	}
	free(el);
}
