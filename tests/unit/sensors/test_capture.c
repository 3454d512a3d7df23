/* Tests for user/sensors/capture.c: chunk reassembly, lost chunks, stream tails
 * across writes, file paths, and malformed records. Records are built
 * here exactly as the BPF sensors lay them out. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>
#include "sensors/capture.h"
#include "sensors/proctable.h"

#define MAXCAP 8

struct seen {
	int n;
	struct {
		enum capture_kind kind;
		unsigned char data[4096];
		size_t len, carry;
		int truncated;
		char path[256];
		int has_path;
		int fd, family, syscall;
	} c[MAXCAP];
};

static int record_capture(void *ctx, const struct capture *c)
{
	struct seen *s = ctx;

	if (s->n == MAXCAP)
		return 0;
	s->c[s->n].kind = c->kind;
	s->c[s->n].len = c->len < 4096 ? c->len : 4096;
	memcpy(s->c[s->n].data, c->data, s->c[s->n].len);
	s->c[s->n].carry = c->carry;
	s->c[s->n].truncated = c->truncated;
	s->c[s->n].has_path = c->path != NULL;
	s->c[s->n].fd = c->fd;
	s->c[s->n].family = c->family;
	s->c[s->n].syscall = c->syscall;
	if (c->path)
		snprintf(s->c[s->n].path, sizeof(s->c[s->n].path), "%s", c->path);
	s->n++;
	return 0;
}

/* One io record: chunk [off, off+n) of a capture of cap bytes. */
static size_t io_rec(unsigned char *buf, unsigned type, int fd, uint64_t ts, uint64_t file_id,
		     uint32_t cap, uint32_t off, const char *data, uint32_t n, unsigned flags,
		     int sock_type)
{
	struct tw_io_event *e = (void *)buf;
	size_t head = sizeof(*e);

	memset(buf, 0, sizeof(*e) + sizeof(struct tw_sock_info));
	e->hdr.type = type;
	e->hdr.flags = flags;
	e->hdr.ts_boot_ns = ts;
	e->hdr.pid = e->hdr.tgid = 4242;
	e->hdr.start_boot_ns = 1000;
	e->file_id = file_id;
	e->total_len = cap;
	e->cap_len = cap;
	e->chunk_off = off;
	e->data_len = n;
	e->fd = fd;
	e->syscall = TW_SC_WRITE;
	if (type == TW_EV_SOCK_SEND) {
		struct tw_sock_info *si = (void *)(e + 1);
		si->family = AF_INET;
		si->sock_type = sock_type;
		head += sizeof(*si);
	}
	memcpy(buf + head, data, n);
	return head + n;
}

static struct capture_ctx *new_ctx(struct seen *s, size_t tail)
{
	struct capture_opts o = { .stream_tail = tail };
	memset(s, 0, sizeof(*s));
	proctable_reset();
	return capture_new(&o, record_capture, NULL, s);
}

static void test_single_record(void **state)
{
	unsigned char buf[1024];
	struct seen s;
	struct capture_ctx *cc = new_ctx(&s, 0);
	(void)state;
	size_t n = io_rec(buf, TW_EV_SOCK_SEND, 5, 1, 9, 11, 0, "hello world", 11, TW_F_LAST_CHUNK, SOCK_DGRAM);
	assert_int_equal(capture_feed(cc, buf, n), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.c[0].kind, CAP_SOCK_SEND);
	assert_int_equal(s.c[0].len, 11);
	assert_memory_equal(s.c[0].data, "hello world", 11);
	assert_false(s.c[0].truncated);
	capture_free(cc);
}

static void test_chunks_reassembled(void **state)
{
	unsigned char buf[1024];
	struct seen s;
	struct capture_stats st;
	struct capture_ctx *cc = new_ctx(&s, 0);
	(void)state;
	capture_feed(cc, buf, io_rec(buf, TW_EV_SOCK_SEND, 5, 7, 9, 12, 0, "abcd", 4, 0, SOCK_DGRAM));
	/* another thread's record in between must not disturb it */
	struct tw_io_event *e = (void *)buf;
	size_t n = io_rec(buf, TW_EV_SOCK_SEND, 6, 8, 9, 3, 0, "zzz", 3, TW_F_LAST_CHUNK, SOCK_DGRAM);
	e->hdr.pid = 777;
	capture_feed(cc, buf, n);
	capture_feed(cc, buf, io_rec(buf, TW_EV_SOCK_SEND, 5, 7, 9, 12, 4, "efgh", 4, 0, SOCK_DGRAM));
	assert_int_equal(s.n, 1);
	capture_feed(cc, buf, io_rec(buf, TW_EV_SOCK_SEND, 5, 7, 9, 12, 8, "ijkl", 4, TW_F_LAST_CHUNK, SOCK_DGRAM));
	assert_int_equal(s.n, 2);
	assert_int_equal(s.c[1].len, 12);
	assert_memory_equal(s.c[1].data, "abcdefghijkl", 12);
	assert_false(s.c[1].truncated);
	capture_get_stats(cc, &st);
	assert_int_equal(st.chunked, 1);
	assert_int_equal(st.incomplete, 0);
	capture_free(cc);
}

static void test_lost_middle_chunk_truncates(void **state)
{
	unsigned char buf[1024];
	struct seen s;
	struct capture_stats st;
	struct capture_ctx *cc = new_ctx(&s, 0);
	(void)state;
	capture_feed(cc, buf, io_rec(buf, TW_EV_SOCK_SEND, 5, 7, 9, 12, 0, "abcd", 4, 0, SOCK_DGRAM));
	capture_feed(cc, buf, io_rec(buf, TW_EV_SOCK_SEND, 5, 7, 9, 12, 8, "ijkl", 4, TW_F_LAST_CHUNK, SOCK_DGRAM));
	assert_int_equal(s.n, 1);
	assert_int_equal(s.c[0].len, 4);
	assert_true(s.c[0].truncated);
	capture_get_stats(cc, &st);
	assert_int_equal(st.incomplete, 1);
	capture_free(cc);
}

static void test_lost_last_chunk_flushed(void **state)
{
	unsigned char buf[1024];
	struct seen s;
	struct capture_ctx *cc = new_ctx(&s, 0);
	(void)state;
	capture_feed(cc, buf, io_rec(buf, TW_EV_SOCK_SEND, 5, 7, 9, 12, 0, "abcd", 4, 0, SOCK_DGRAM));
	assert_int_equal(capture_flush(cc, 0), 0); /* progressed since: kept */
	assert_int_equal(s.n, 0);
	capture_flush(cc, 0); /* nothing new for a whole period: delivered */
	assert_int_equal(s.n, 1);
	assert_true(s.c[0].truncated);
	/* the same thread starting a new capture also ends the old one */
	capture_feed(cc, buf, io_rec(buf, TW_EV_SOCK_SEND, 5, 10, 9, 12, 0, "abcd", 4, 0, SOCK_DGRAM));
	capture_feed(cc, buf, io_rec(buf, TW_EV_SOCK_SEND, 5, 11, 9, 2, 0, "xy", 2, TW_F_LAST_CHUNK, SOCK_DGRAM));
	assert_int_equal(s.n, 3);
	assert_true(s.c[1].truncated);
	assert_false(s.c[2].truncated);
	capture_free(cc);
}

static void test_stream_tail_carried(void **state)
{
	unsigned char buf[1024];
	struct seen s;
	struct capture_ctx *cc = new_ctx(&s, 4);
	(void)state;
	capture_feed(cc, buf, io_rec(buf, TW_EV_SOCK_SEND, 5, 1, 9, 8, 0, "12345tok", 8, TW_F_LAST_CHUNK, SOCK_STREAM));
	capture_feed(cc, buf, io_rec(buf, TW_EV_SOCK_SEND, 5, 2, 9, 5, 0, "en678", 5, TW_F_LAST_CHUNK, SOCK_STREAM));
	assert_int_equal(s.n, 2);
	assert_int_equal(s.c[0].carry, 0);
	assert_int_equal(s.c[1].carry, 4);
	assert_int_equal(s.c[1].len, 9);
	assert_memory_equal(s.c[1].data, "5token678", 9);
	/* a different fd is a different stream */
	capture_feed(cc, buf, io_rec(buf, TW_EV_SOCK_SEND, 6, 3, 9, 2, 0, "ab", 2, TW_F_LAST_CHUNK, SOCK_STREAM));
	assert_int_equal(s.c[2].carry, 0);
	capture_free(cc);
}

/* The consumer asks for more carry than the stream tail holds (a long
 * token open at the seam): the carry is cut, and that is counted. */
static struct capture_ctx *keep_cc;
static size_t keep_want;

static int keep_capture(void *ctx, const struct capture *c)
{
	record_capture(ctx, c);
	capture_keep_tail(keep_cc, keep_want);
	return 0;
}

static void test_carry_cut_counted(void **state)
{
	unsigned char buf[1024];
	struct capture_opts o = { .stream_tail = 4 };
	struct capture_stats cs;
	struct seen s = { 0 };
	(void)state;
	proctable_reset();
	keep_cc = capture_new(&o, keep_capture, NULL, &s);
	keep_want = 3; /* fits: not a cut */
	capture_feed(keep_cc, buf, io_rec(buf, TW_EV_SOCK_SEND, 5, 1, 9, 8, 0, "12345678", 8, TW_F_LAST_CHUNK, SOCK_STREAM));
	capture_get_stats(keep_cc, &cs);
	assert_int_equal(cs.carry_cut, 0);
	keep_want = 6; /* more than the 4 bytes a tail holds */
	capture_feed(keep_cc, buf, io_rec(buf, TW_EV_SOCK_SEND, 5, 2, 9, 8, 0, "abcdefgh", 8, TW_F_LAST_CHUNK, SOCK_STREAM));
	capture_get_stats(keep_cc, &cs);
	assert_int_equal(cs.carry_cut, 1);
	capture_feed(keep_cc, buf, io_rec(buf, TW_EV_SOCK_SEND, 5, 3, 9, 2, 0, "ij", 2, TW_F_LAST_CHUNK, SOCK_STREAM));
	assert_int_equal(s.c[2].carry, 4);
	capture_free(keep_cc);
}

static void test_no_tail_for_datagrams_or_after_truncation(void **state)
{
	unsigned char buf[1024];
	struct seen s;
	struct capture_ctx *cc = new_ctx(&s, 4);
	struct tw_io_event *e = (void *)buf;
	size_t n;
	(void)state;
	capture_feed(cc, buf, io_rec(buf, TW_EV_SOCK_SEND, 5, 1, 9, 4, 0, "abcd", 4, TW_F_LAST_CHUNK, SOCK_DGRAM));
	capture_feed(cc, buf, io_rec(buf, TW_EV_SOCK_SEND, 5, 2, 9, 4, 0, "efgh", 4, TW_F_LAST_CHUNK, SOCK_DGRAM));
	assert_int_equal(s.c[1].carry, 0);
	/* a file write that was cut: the next write does not continue it */
	n = io_rec(buf, TW_EV_FILE_WRITE, 7, 3, 11, 4, 0, "abcd", 4, TW_F_LAST_CHUNK | TW_F_CAP_TRUNC, 0);
	e->total_len = 100;
	capture_feed(cc, buf, n);
	assert_true(s.c[2].truncated);
	capture_feed(cc, buf, io_rec(buf, TW_EV_FILE_WRITE, 7, 4, 11, 4, 0, "efgh", 4, TW_F_LAST_CHUNK, 0));
	assert_int_equal(s.c[3].carry, 0);
	capture_free(cc);
}

static void test_file_path_from_path_record(void **state)
{
	unsigned char buf[1024];
	struct seen s;
	struct capture_stats st;
	struct capture_ctx *cc = new_ctx(&s, 0);
	struct tw_path_event *p = (void *)buf;
	(void)state;
	memset(buf, 0, sizeof(buf));
	p->hdr.type = TW_EV_FILE_PATH;
	p->hdr.tgid = 4242;
	p->file_id = 77;
	p->path_len = sizeof("/var/log/app.log");
	memcpy(p->path, "/var/log/app.log", p->path_len);
	capture_feed(cc, buf, sizeof(*p) + p->path_len);
	capture_feed(cc, buf, io_rec(buf, TW_EV_FILE_WRITE, 3, 1, 77, 2, 0, "hi", 2, TW_F_LAST_CHUNK, 0));
	assert_int_equal(s.n, 1);
	assert_true(s.c[0].has_path);
	assert_string_equal(s.c[0].path, "/var/log/app.log");
	/* an unknown file id for a pid that does not exist: no path, counted */
	capture_feed(cc, buf, io_rec(buf, TW_EV_FILE_WRITE, 3, 2, 78, 2, 0, "hi", 2, TW_F_LAST_CHUNK, 0));
	capture_get_stats(cc, &st);
	assert_int_equal(st.path_misses, 1);
	capture_free(cc);
}

static void test_malformed_records_refused(void **state)
{
	unsigned char buf[1024];
	struct seen s;
	struct capture_stats st;
	struct capture_ctx *cc = new_ctx(&s, 0);
	size_t n = io_rec(buf, TW_EV_SOCK_SEND, 5, 1, 9, 11, 0, "hello world", 11, TW_F_LAST_CHUNK, SOCK_DGRAM);
	struct tw_io_event *e = (void *)buf;
	(void)state;
	capture_feed(cc, buf, n - 1);          /* data_len past the record */
	e->chunk_off = 5;                      /* chunk past the capture */
	capture_feed(cc, buf, n);
	capture_feed(cc, buf, 3);              /* shorter than a header */
	assert_int_equal(s.n, 0);
	capture_get_stats(cc, &st);
	assert_int_equal(st.bad_records, 3);
	capture_free(cc);
}

/* TLS plaintext copied at SSL_write (TW_F_TLS_EARLY, no socket) is held
 * until the bind of its ciphertext send names the socket; a copy no bind
 * names is dropped after a second of record time, counted; a bind naming
 * a copy not held is counted. */
static void test_tls_early_copy_held_until_bound(void **state)
{
	unsigned char buf[1024];
	struct tw_tls_bind_event b;
	struct capture_stats st;
	struct seen s;
	struct capture_ctx *cc = new_ctx(&s, 0);
	(void)state;

	capture_feed(cc, buf, io_rec(buf, TW_EV_SOCK_SEND, -1, 50, 0, 8, 0, "GET ", 4, TW_F_TLS_EARLY,
				     0));
	capture_feed(cc, buf, io_rec(buf, TW_EV_SOCK_SEND, -1, 50, 0, 8, 4, "/ok", 4,
				     TW_F_TLS_EARLY | TW_F_LAST_CHUNK, 0));
	assert_int_equal(s.n, 0); /* held: no socket yet */
	memset(&b, 0, sizeof(b));
	b.hdr.type = TW_EV_TLS_BIND;
	b.hdr.pid = b.hdr.tgid = 4242;
	b.hdr.ts_boot_ns = 70;
	b.hdr.start_boot_ns = 1000;
	b.fd = 7;
	b.file_id = 99;
	b.n = 1;
	b.ts[0] = 50;
	b.sock.family = AF_INET;
	b.sock.sock_type = SOCK_STREAM;
	capture_feed(cc, &b, sizeof(b));
	assert_int_equal(s.n, 1);
	assert_int_equal(s.c[0].kind, CAP_SOCK_SEND);
	assert_int_equal(s.c[0].fd, 7);
	assert_int_equal(s.c[0].family, AF_INET);
	assert_int_equal(s.c[0].len, 8);
	assert_memory_equal(s.c[0].data, "GET /ok", 8);
	assert_false(s.c[0].truncated);

	/* never bound: dropped once a second of records has passed */
	capture_feed(cc, buf, io_rec(buf, TW_EV_SOCK_SEND, -1, 80, 0, 3, 0, "abc", 3,
				     TW_F_TLS_EARLY | TW_F_LAST_CHUNK, 0));
	capture_flush(cc, 0);
	capture_get_stats(cc, &st);
	assert_int_equal(st.tls_unbound, 0);
	capture_feed(cc, buf, io_rec(buf, TW_EV_FILE_WRITE, 3, 80 + 2000000000ull, 5, 1, 0, "x", 1,
				     TW_F_LAST_CHUNK, 0));
	capture_flush(cc, 0);
	/* a bind for a copy not held (lost in the ring) */
	b.ts[0] = 60;
	capture_feed(cc, &b, sizeof(b));
	capture_get_stats(cc, &st);
	assert_int_equal(st.tls_held, 2);
	assert_int_equal(st.tls_bound, 1);
	assert_int_equal(st.tls_unbound, 1);
	assert_int_equal(st.tls_bind_missed, 1);
	assert_int_equal(s.n, 2); /* the bound send and the file write, nothing else */
	capture_free(cc);
}

/* Held copies are bounded in bytes too (16 MiB): any process can make
 * them. Five 4 MiB copies never bound: the oldest gives way, counted. */
static void test_tls_held_bytes_bounded(void **state)
{
	size_t big = 4u << 20, head = sizeof(struct tw_io_event) + sizeof(struct tw_sock_info);
	unsigned char *buf = calloc(1, head + big);
	struct capture_stats st;
	struct seen s;
	struct capture_ctx *cc = new_ctx(&s, 0);
	(void)state;

	assert_non_null(buf);
	for (int i = 0; i < 5; i++) {
		size_t n = io_rec(buf, TW_EV_SOCK_SEND, -1, 100 + i, 0, 4, 0, "abcd", 4,
				  TW_F_TLS_EARLY | TW_F_LAST_CHUNK, 0);
		struct tw_io_event *e = (void *)buf;

		(void)n;
		e->total_len = e->cap_len = e->data_len = big;
		assert_int_equal(capture_feed(cc, buf, head + big), 0);
	}
	capture_get_stats(cc, &st);
	assert_int_equal(st.tls_held, 5);
	assert_int_equal(st.tls_unbound, 1);
	assert_int_equal(s.n, 0);
	capture_free(cc);
	free(buf);
}

static void test_exec_gives_argv_and_env(void **state)
{
	unsigned char buf[512];
	struct tw_exec_event *e = (void *)buf;
	struct seen s;
	struct capture_ctx *cc = new_ctx(&s, 0);
	(void)state;
	memset(buf, 0, sizeof(buf));
	e->hdr.type = TW_EV_EXEC;
	e->hdr.tgid = 99;
	e->path_len = sizeof("/bin/x");
	memcpy(e->data, "/bin/x", e->path_len);
	memcpy(e->data + e->path_len, "x\0-v\0", 5);
	e->args_len = e->args_full_len = 5;
	memcpy(e->data + e->path_len + 5, "A=1\0", 4);
	e->env_len = e->env_full_len = 4;
	capture_feed(cc, buf, sizeof(*e) + e->path_len + 9);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.c[0].kind, CAP_EXEC_ARGV);
	assert_memory_equal(s.c[0].data, "x\0-v\0", 5);
	assert_int_equal(s.c[1].kind, CAP_EXEC_ENV);
	assert_memory_equal(s.c[1].data, "A=1\0", 4);
	assert_string_equal(s.c[1].path, "/bin/x");
	assert_non_null(proctable_lookup(99));
	capture_free(cc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_record),
		cmocka_unit_test(test_chunks_reassembled),
		cmocka_unit_test(test_lost_middle_chunk_truncates),
		cmocka_unit_test(test_lost_last_chunk_flushed),
		cmocka_unit_test(test_stream_tail_carried),
		cmocka_unit_test(test_carry_cut_counted),
		cmocka_unit_test(test_no_tail_for_datagrams_or_after_truncation),
		cmocka_unit_test(test_file_path_from_path_record),
		cmocka_unit_test(test_malformed_records_refused),
		cmocka_unit_test(test_exec_gives_argv_and_env),
		cmocka_unit_test(test_tls_early_copy_held_until_bound),
		cmocka_unit_test(test_tls_held_bytes_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
