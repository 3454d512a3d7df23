/* Tests for user/sensors/event.c: malformed records are refused, good ones formatted. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "sensors/event.h"

static size_t build_exec(char *buf, const char *path, const char *args, size_t args_len)
{
	struct tw_exec_event *e = (void *)buf;
	memset(e, 0, sizeof(*e));
	e->hdr.type = TW_EV_EXEC;
	e->hdr.tgid = 42;
	e->hdr.ppid = 1;
	memcpy(e->hdr.comm, "demo", 5);
	e->path_len = strlen(path) + 1;
	memcpy(e->data, path, e->path_len);
	memcpy(e->data + e->path_len, args, args_len);
	e->args_len = args_len;
	return sizeof(*e) + e->path_len + args_len;
}

static void test_exec_ok(void **state)
{
	char buf[512];
	(void)state;
	size_t n = build_exec(buf, "/usr/bin/demo", "demo\0-x\0", 8);
	cJSON *o = event_to_json(buf, n, 0);
	assert_non_null(o);
	assert_string_equal(cJSON_GetObjectItem(o, "exe")->valuestring, "/usr/bin/demo");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "argv")), 2);
	assert_int_equal(cJSON_GetObjectItem(o, "pid")->valueint, 42);
	cJSON_Delete(o);
}

static void test_exec_lengths_past_record_refused(void **state)
{
	char buf[512];
	(void)state;
	size_t n = build_exec(buf, "/usr/bin/demo", "demo\0", 5);
	((struct tw_exec_event *)buf)->args_len = 100000;
	assert_int_not_equal(event_validate(buf, n), 0);
	assert_null(event_to_json(buf, n, 0));
	/* shorter than a header */
	assert_int_not_equal(event_validate(buf, 4), 0);
}

static void test_unknown_type_refused(void **state)
{
	struct tw_hdr h = { .type = 9999 };
	(void)state;
	assert_null(event_to_json(&h, sizeof(h), 0));
}

/* A send-batch notice shorter than its struct is refused; a whole one is
 * valid. A send record's batch_slot needs no check here: user/sensors/sockbatch.c
 * bounds it. */
static void test_batch_notice_length(void **state)
{
	struct tw_batch_event e = { .hdr.type = TW_EV_SOCK_BATCH, .slot = 3 };
	(void)state;
	assert_int_equal(event_validate(&e, sizeof(e)), 0);
	assert_int_not_equal(event_validate(&e, sizeof(e) - 1), 0);
	assert_int_not_equal(event_validate(&e, sizeof(e.hdr)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exec_ok),
		cmocka_unit_test(test_exec_lengths_past_record_refused),
		cmocka_unit_test(test_unknown_type_refused),
		cmocka_unit_test(test_batch_notice_length),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
