/* Tests for user/sensors/sockbatch.c: the slot protocol (take the pending bytes
 * with a compare-and-swap, keep the batch open, wait while the kernel is
 * appending, leave another batch's slot alone), sealed batches taken before
 * the record that sealed them, idle batches freed, orphans swept and
 * counted, and a writer thread playing the kernel's part while batches are
 * taken: every byte arrives once, in order. The slots are plain memory
 * here, as the kernel's mmapped array is to userspace. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "sensors/sockbatch.h"

#define SLOT 77
#define TAG (0x1234ull << TW_BATCH_TAG_SHIFT)
#define MS 1000000ull

struct fixture {
	struct tw_batch_slot *slots;
	struct tw_batch_event ev;
	unsigned char *fed;
	size_t fed_len, records;
	uint32_t flags;
};

static int feed(void *ctx, const void *rec, size_t len)
{
	struct fixture *f = ctx;
	const struct tw_io_event *e = rec;
	const struct tw_sock_info *si = (const void *)(e + 1);

	assert_int_equal(e->hdr.type, TW_EV_SOCK_SEND);
	assert_int_equal(len, sizeof(*e) + sizeof(*si) + e->data_len);
	assert_int_equal(e->cap_len, e->data_len);
	assert_int_equal(e->total_len, e->data_len);
	assert_int_equal(e->fd, f->ev.fd);
	assert_int_equal(e->file_id, f->ev.file_id);
	assert_int_equal(e->hdr.tgid, f->ev.hdr.tgid);
	assert_int_equal(si->peer.port, f->ev.sock.peer.port);
	assert_int_equal(e->batch_slot, 0);
	f->fed = realloc(f->fed, f->fed_len + e->data_len);
	memcpy(f->fed + f->fed_len, (const char *)(si + 1), e->data_len);
	f->fed_len += e->data_len;
	f->records++;
	f->flags |= e->hdr.flags;
	return 0;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->slots = calloc(TW_BATCH_SLOTS, sizeof(*f->slots));
	f->ev.hdr.type = TW_EV_SOCK_BATCH;
	f->ev.hdr.tgid = f->ev.hdr.pid = 4242;
	f->ev.file_id = 99;
	f->ev.fd = 7;
	f->ev.slot = SLOT;
	f->ev.tag = TAG;
	f->ev.syscall = TW_SC_WRITE;
	f->ev.sock.family = 2;
	f->ev.sock.sock_type = 1;
	f->ev.sock.peer.family = 2;
	f->ev.sock.peer.port = 6379;
	f->slots[SLOT].file_id = 99;
	f->slots[SLOT].tgid = 4242;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	free(f->slots);
	free(f->fed);
	free(f);
	return 0;
}

/* The kernel's side of an append (bpf/sockbatch.bpf.h, tw_batch_append). Returns 0
 * when the bytes went into the slot, -1 when they would go to the ring. */
static int kernel_append(struct tw_batch_slot *s, uint64_t tag, const void *p, size_t n)
{
	/* the slot word's own type (bpf/tokenward.h): clang rejects a uint64_t * here */
	unsigned long long w = __atomic_load_n(&s->word, __ATOMIC_ACQUIRE), len;

	if ((w & (TW_BATCH_STATE | TW_BATCH_TAG_MASK)) != (TW_BATCH_PEND | tag))
		return -1;
	len = w & TW_BATCH_LEN_MASK;
	if (len + n > TW_BATCH_BYTES ||
	    !__atomic_compare_exchange_n(&s->word, &w, TW_BATCH_BUSY | tag | len, 0,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return -1;
	memcpy(s->data + len, p, n);
	__atomic_store_n(&s->word, TW_BATCH_PEND | tag | (len + n), __ATOMIC_RELEASE);
	return 0;
}

static struct sockbatch *batch_new(struct fixture *f)
{
	struct sockbatch_opts o = { .delay_ms = 10, .idle_ms = 100 };
	struct sockbatch *b = sockbatch_new(f->slots, &o, feed, f);

	assert_non_null(b);
	return b;
}

/* Opened with the first send's bytes; taken at once, the batch stays open
 * (PEND, empty) for the next sends. */
static void test_take_keeps_batch_open(void **state)
{
	struct fixture *f = *state;
	struct sockbatch *b = batch_new(f);
	struct sockbatch_stats st;

	memcpy(f->slots[SLOT].data, "SET k v\r\n", 9);
	f->slots[SLOT].word = TW_BATCH_PEND | TAG | 9;
	assert_int_equal(sockbatch_note(b, &f->ev, 5 * MS), 0);
	assert_int_equal(sockbatch_timeout_ms(b, 5 * MS, 50), 0);
	assert_int_equal(sockbatch_run(b, 5 * MS, 0), 0);
	assert_int_equal(f->fed_len, 9);
	assert_memory_equal(f->fed, "SET k v\r\n", 9);
	assert_true(f->flags & TW_F_BATCHED);
	assert_int_equal(f->slots[SLOT].word, TW_BATCH_PEND | TAG);
	assert_int_equal(kernel_append(&f->slots[SLOT], TAG, "GET k\r\n", 7), 0);
	assert_int_equal(kernel_append(&f->slots[SLOT], TAG, "GET j\r\n", 7), 0);
	sockbatch_run(b, 10 * MS, 0); /* before the delay: nothing */
	assert_int_equal(f->fed_len, 9);
	assert_int_equal(sockbatch_timeout_ms(b, 10 * MS, 50), 5);
	sockbatch_run(b, 15 * MS, 0);
	assert_int_equal(f->fed_len, 23);
	assert_memory_equal(f->fed + 9, "GET k\r\nGET j\r\n", 14);
	assert_int_equal(f->records, 2);
	sockbatch_get_stats(b, &st);
	assert_int_equal(st.batches, 1);
	assert_int_equal(st.takes, 2);
	assert_int_equal(st.bytes, 23);
	sockbatch_free(b);
}

/* BUSY: the kernel is appending; never touched, tried again shortly. */
static void test_busy_slot_retried(void **state)
{
	struct fixture *f = *state;
	struct sockbatch *b = batch_new(f);

	f->slots[SLOT].word = TW_BATCH_BUSY | TAG | 0;
	sockbatch_note(b, &f->ev, 1 * MS);
	sockbatch_run(b, 1 * MS, 0);
	assert_int_equal(f->fed_len, 0);
	assert_int_equal(f->slots[SLOT].word, TW_BATCH_BUSY | TAG);
	assert_true(sockbatch_timeout_ms(b, 1 * MS, 5) <= 1);
	memcpy(f->slots[SLOT].data, "abc", 3);
	f->slots[SLOT].word = TW_BATCH_PEND | TAG | 3; /* published */
	sockbatch_run(b, 2 * MS, 0);
	assert_int_equal(f->fed_len, 3);
	sockbatch_free(b);
}

/* A send through the ring sealed the batch: its bytes are taken when that
 * record arrives, the slot is freed and the batch is over. */
static void test_sealed_taken_and_freed(void **state)
{
	struct fixture *f = *state;
	struct sockbatch *b = batch_new(f);
	struct sockbatch_stats st;

	f->slots[SLOT].word = TW_BATCH_PEND | TAG;
	sockbatch_note(b, &f->ev, 1 * MS);
	sockbatch_run(b, 1 * MS, 0);
	assert_int_equal(kernel_append(&f->slots[SLOT], TAG, "first half", 10), 0);
	f->slots[SLOT].word = (f->slots[SLOT].word & ~TW_BATCH_STATE) | TW_BATCH_SEAL;
	assert_int_equal(kernel_append(&f->slots[SLOT], TAG, "x", 1), -1); /* sealed: ring */
	assert_int_equal(sockbatch_sealed(b, SLOT + 1, 2 * MS), 0);
	assert_int_equal(f->fed_len, 10);
	assert_int_equal(f->slots[SLOT].word, 0);
	assert_int_equal(sockbatch_timeout_ms(b, 2 * MS, 50), 50); /* nothing active */
	sockbatch_get_stats(b, &st);
	assert_int_equal(st.sealed, 1);
	/* a stale or unknown slot number is ignored */
	assert_int_equal(sockbatch_sealed(b, SLOT + 1, 3 * MS), 0);
	assert_int_equal(sockbatch_sealed(b, TW_BATCH_SLOTS + 5, 3 * MS), 0);
	assert_int_equal(f->fed_len, 10);
	sockbatch_free(b);
}

/* No bytes for idle_ms: the slot is freed, so the next send opens a new
 * batch with a fresh notice (and the socket's addresses as they are then). */
static void test_idle_batch_retired(void **state)
{
	struct fixture *f = *state;
	struct sockbatch *b = batch_new(f);
	struct sockbatch_stats st;

	f->slots[SLOT].word = TW_BATCH_PEND | TAG | 0;
	sockbatch_note(b, &f->ev, 1000 * MS);
	sockbatch_run(b, 1000 * MS, 0);
	sockbatch_run(b, 1050 * MS, 0);
	assert_int_equal(f->slots[SLOT].word, TW_BATCH_PEND | TAG);
	sockbatch_run(b, 1101 * MS, 0);
	assert_int_equal(f->slots[SLOT].word, 0);
	sockbatch_get_stats(b, &st);
	assert_int_equal(st.retired, 1);
	assert_int_equal(sockbatch_timeout_ms(b, 1101 * MS, 50), 50);
	sockbatch_free(b);
}

/* Another batch's slot (a new tag): not ours to take or free. */
static void test_other_tag_left_alone(void **state)
{
	struct fixture *f = *state;
	struct sockbatch *b = batch_new(f);
	uint64_t other = TW_BATCH_PEND | (0x55ull << TW_BATCH_TAG_SHIFT) | 5;

	f->slots[SLOT].word = other;
	sockbatch_note(b, &f->ev, 1 * MS);
	sockbatch_run(b, 1 * MS, 0);
	assert_int_equal(f->fed_len, 0);
	assert_int_equal(f->slots[SLOT].word, other);
	sockbatch_free(b);
}

/* A slot in use with no notice for 5 s is freed and its bytes counted. */
static void test_orphan_swept(void **state)
{
	struct fixture *f = *state;
	struct sockbatch *b = batch_new(f);
	struct sockbatch_stats st;

	f->slots[5].word = TW_BATCH_PEND | TAG | 321;
	f->slots[6].word = TW_BATCH_SEAL | TAG | 9;
	for (int s = 0; s < 4; s++)
		sockbatch_run(b, (uint64_t)s * 1000 * MS + 1, 0);
	assert_int_equal(f->slots[5].word, TW_BATCH_PEND | TAG | 321);
	sockbatch_run(b, 4000 * MS + 1, 0);
	assert_int_equal(f->slots[5].word, 0);
	assert_int_equal(f->slots[6].word, 0);
	sockbatch_get_stats(b, &st);
	assert_int_equal(st.orphaned, 2);
	assert_int_equal(st.lost_bytes, 330);
	assert_int_equal(f->fed_len, 0);
	sockbatch_free(b);
}

/* Nonsense from the kernel side: a notice for a slot past the array, a
 * length past the data. Counted, no read past the slot. */
static void test_malformed(void **state)
{
	struct fixture *f = *state;
	struct sockbatch *b = batch_new(f);
	struct sockbatch_stats st;
	struct tw_batch_event bad = f->ev;

	bad.slot = TW_BATCH_SLOTS;
	assert_int_equal(sockbatch_note(b, &bad, 1 * MS), -EINVAL);
	bad = f->ev;
	bad.tag = 1;
	assert_int_equal(sockbatch_note(b, &bad, 1 * MS), -EINVAL);
	f->slots[SLOT].word = TW_BATCH_PEND | TAG | (TW_BATCH_BYTES + 100);
	sockbatch_note(b, &f->ev, 1 * MS);
	sockbatch_run(b, 1 * MS, 0);
	assert_int_equal(f->fed_len, 0);
	sockbatch_get_stats(b, &st);
	assert_int_equal(st.malformed, 3);
	sockbatch_free(b);
}

/* At shutdown every batch is taken and its slot freed. */
static void test_shutdown_takes_all(void **state)
{
	struct fixture *f = *state;
	struct sockbatch *b = batch_new(f);

	f->slots[SLOT].word = TW_BATCH_PEND | TAG;
	sockbatch_note(b, &f->ev, 1 * MS);
	sockbatch_run(b, 1 * MS, 0);
	assert_int_equal(kernel_append(&f->slots[SLOT], TAG, "tail end", 8), 0);
	sockbatch_run(b, 2 * MS, 1);
	assert_int_equal(f->fed_len, 8);
	assert_int_equal(f->slots[SLOT].word, 0);
	sockbatch_free(b);
}

struct writer {
	struct tw_batch_slot *s;
	size_t total, sent, refused;
	volatile int go;
};

static unsigned char stream_byte(size_t i)
{
	return (unsigned char)(i * 131 + (i >> 9));
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	unsigned char buf[64];

	while (!w->go)
		;
	while (w->sent < w->total) {
		size_t n = 1 + (w->sent * 7) % 40;

		if (n > w->total - w->sent)
			n = w->total - w->sent;
		for (size_t i = 0; i < n; i++)
			buf[i] = stream_byte(w->sent + i);
		if (kernel_append(w->s, TAG, buf, n) == 0)
			w->sent += n;
		else
			w->refused++; /* full or busy: a real sender would go to the ring */
	}
	return NULL;
}

/* The kernel appending on another CPU while userspace takes: every byte
 * exactly once, in order (the copy-then-swap of batch_take). */
static void test_concurrent_appends_exact(void **state)
{
	struct fixture *f = *state;
	struct sockbatch_opts o = { .delay_ms = 1, .idle_ms = 1u << 31 }; /* the fake clock races ahead */
	struct sockbatch *b = sockbatch_new(f->slots, &o, feed, f);
	struct writer w = { .s = &f->slots[SLOT], .total = 4 << 20 };
	pthread_t th;
	uint64_t now = 1;

	f->slots[SLOT].word = TW_BATCH_PEND | TAG;
	sockbatch_note(b, &f->ev, now);
	pthread_create(&th, NULL, writer_main, &w);
	w.go = 1;
	while (__atomic_load_n(&w.sent, __ATOMIC_RELAXED) < w.total) {
		now += 2 * MS;
		sockbatch_run(b, now, 0);
	}
	pthread_join(th, NULL);
	sockbatch_run(b, now + 2 * MS, 1);
	assert_int_equal(f->fed_len, w.total);
	for (size_t i = 0; i < w.total; i++)
		if (f->fed[i] != stream_byte(i))
			fail_msg("byte %zu differs", i);
	assert_true(f->records > 10);
	sockbatch_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_take_keeps_batch_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busy_slot_retried, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sealed_taken_and_freed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_batch_retired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_tag_left_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_orphan_swept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown_takes_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_appends_exact, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
