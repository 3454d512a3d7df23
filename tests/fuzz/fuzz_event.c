/*
 * The event decoder (user/sensors/event.c) and the record-to-capture
 * layer behind it (user/sensors/capture.c, proctable.c) on arbitrary
 * records: what the controller does with whatever the ring buffer holds.
 * Input: records back to back, each a 2-byte little-endian length and
 * that many bytes; each is copied to a heap block of exactly its length,
 * so one byte read past a record is an ASan report.
 */
#include <cjson/cJSON.h>
#include "sensors/capture.h"
#include "sensors/event.h"
#include "sensors/proctable.h"
#include "fuzz.h"

struct seen {
	size_t captures, connects;
};

static void json_ok(cJSON *o)
{
	char *s;

	FUZZ_CHECK(o, "no JSON");
	s = cJSON_PrintUnformatted(o);
	FUZZ_CHECK(s, "JSON does not print");
	cJSON *back = cJSON_Parse(s);
	FUZZ_CHECK(back, "printed JSON does not parse back: %.200s", s);
	cJSON_Delete(back);
	free(s);
	cJSON_Delete(o);
}

static int on_capture(void *ctx, const struct capture *c)
{
	struct seen *s = ctx;

	s->captures++;
	FUZZ_CHECK(c->carry <= c->len, "carry %zu > len %zu", c->carry, c->len);
	FUZZ_CHECK(c->len == 0 || c->data, "no data");
	/* touch every byte handed out: ASan checks the range is real */
	volatile unsigned char sum = 0;
	for (size_t i = 0; i < c->len; i++)
		sum ^= c->data[i];
	(void)sum;
	json_ok(event_capture_to_json(c, 0));
	if (c->hdr)
		proctable_is_descendant(c->hdr->tgid, 1);
	return 0;
}

static int on_conn(void *ctx, const struct conn_event *c)
{
	struct seen *s = ctx;

	s->connects++;
	json_ok(event_conn_to_json(c, 0));
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct capture_opts opts = { .stream_tail = 64, .max_streams = 8, .path_slots = 8 };
	struct seen seen = { 0 };
	struct capture_ctx *cc = capture_new(&opts, on_capture, on_conn, &seen);
	size_t i = 0;

	FUZZ_CHECK(cc, "capture_new");
	while (i + 2 <= size) {
		size_t n = data[i] | (size_t)data[i + 1] << 8;
		unsigned char *rec;
		cJSON *o;

		i += 2;
		if (n > size - i)
			n = size - i;
		rec = malloc(n ? n : 1);
		memcpy(rec, data + i, n);
		i += n;
		if (event_validate(rec, n) == 0 && (o = event_to_json(rec, n, 0)))
			json_ok(o);
		capture_feed(cc, rec, n);
		free(rec);
	}
	capture_flush(cc, 1);
	capture_free(cc);
	proctable_reset();
	return 0;
}
