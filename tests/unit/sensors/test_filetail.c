/* Tests for user/sensors/filetail.c: the slot protocol (take a range with a
 * compare-and-swap, wait while the kernel is mid-claim, leave another
 * run's slot alone), read-back in pieces, the per-slot rate limit, and the
 * file checks (inode and device, regular files only, the path when the
 * writer's fd is gone). The slots are plain memory here, as the kernel's
 * mmapped array is to userspace. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <cmocka.h>
#include "sensors/filetail.h"

#define SLOT 77
#define TAG (0x1234ull << TW_TAIL_TAG_SHIFT)
#define MS 1000000ull

struct fed {
	unsigned char *buf; /* bytes fed, in order */
	size_t len, records;
	uint32_t flags;
};

struct fixture {
	char dir[64], path[96];
	int wfd;
	struct tw_tail_slot *slots;
	struct fed fed;
	const char *path_answer;
	struct tw_tail_event ev;
};

static int feed(void *ctx, const void *rec, size_t len)
{
	struct fixture *f = ctx;
	const struct tw_io_event *e = rec;

	assert_int_equal(e->hdr.type, TW_EV_FILE_WRITE);
	assert_int_equal(len, sizeof(*e) + e->data_len);
	assert_int_equal(e->cap_len, e->data_len);
	f->fed.buf = realloc(f->fed.buf, f->fed.len + e->data_len);
	memcpy(f->fed.buf + f->fed.len, e + 1, e->data_len);
	f->fed.len += e->data_len;
	f->fed.records++;
	f->fed.flags |= e->hdr.flags;
	return 0;
}

static const char *path_of(void *ctx, uint64_t file_id)
{
	(void)file_id;
	return ((struct fixture *)ctx)->path_answer;
}

static void pattern(unsigned char *b, size_t n, size_t from)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)((from + i) * 131 + 7);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	unsigned char buf[4096];
	struct stat st;

	strcpy(f->dir, "/tmp/tw-filetail.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/app.log", f->dir);
	f->wfd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(f->wfd >= 0);
	for (size_t off = 0; off < 100000; off += sizeof(buf)) {
		size_t n = 100000 - off < sizeof(buf) ? 100000 - off : sizeof(buf);
		pattern(buf, n, off);
		assert_int_equal(write(f->wfd, buf, n), (ssize_t)n);
	}
	assert_int_equal(fstat(f->wfd, &st), 0);
	f->slots = calloc(TW_TAIL_SLOTS, sizeof(*f->slots));
	f->ev.hdr.type = TW_EV_FILE_TAIL;
	f->ev.hdr.tgid = getpid();
	f->ev.hdr.pid = getpid();
	f->ev.fd = f->wfd;
	f->ev.file_id = 42;
	f->ev.ino = st.st_ino;
	f->ev.dev = major(st.st_dev) << 20 | minor(st.st_dev);
	f->ev.slot = SLOT;
	f->ev.tag = TAG;
	f->ev.start = 1000;
	f->ev.end = 1000;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	close(f->wfd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f->slots);
	free(f->fed.buf);
	free(f);
	return 0;
}

static struct filetail *tail_new(struct fixture *f, uint32_t piece)
{
	struct filetail_opts o = { .delay_ms = 10, .piece_bytes = piece };
	struct filetail *t = filetail_new(f->slots, &o, feed, path_of, f);

	assert_non_null(t);
	return t;
}

static void assert_fed_range(struct fixture *f, size_t from, size_t n)
{
	unsigned char *want = malloc(n);

	pattern(want, n, from);
	assert_int_equal(f->fed.len, n);
	assert_memory_equal(f->fed.buf, want, n);
	free(want);
}

/* The whole pending range, in pieces of the capture window; slot freed. */
static void test_reads_range_in_pieces(void **state)
{
	struct fixture *f = *state;
	struct filetail *t = tail_new(f, 32768);
	struct filetail_stats st;

	f->slots[SLOT].word = TW_TAIL_PEND | TAG | 100000;
	assert_int_equal(filetail_note(t, &f->ev, 5 * MS), 0);
	assert_int_equal(filetail_timeout_ms(t, 5 * MS, 5), 0);
	assert_int_equal(filetail_run(t, 5 * MS, 0), 0);
	assert_fed_range(f, 1000, 99000);
	assert_int_equal(f->fed.records, 4); /* 32K + 32K + 32K + 652 */
	assert_true(f->fed.flags & TW_F_PAGE_CACHE);
	assert_int_equal(f->slots[SLOT].word, 0);
	filetail_get_stats(t, &st);
	assert_int_equal(st.notices, 1);
	assert_int_equal(st.reads, 1);
	assert_int_equal(st.bytes, 99000);
	assert_int_equal(st.lost_bytes, 0);
	assert_int_equal(st.open_handles, 1);
	filetail_free(t);
}

/* A second run on the same slot waits out the delay after the last read:
 * a busy writer costs one notice per delay, not one per read. */
static void test_rate_limited_per_slot(void **state)
{
	struct fixture *f = *state;
	struct filetail *t = tail_new(f, 65536);

	f->slots[SLOT].word = TW_TAIL_PEND | TAG | 2000;
	filetail_note(t, &f->ev, 100 * MS);
	filetail_run(t, 100 * MS, 0);
	assert_int_equal(f->fed.len, 1000);

	f->ev.start = f->ev.end = 2000;
	f->slots[SLOT].word = TW_TAIL_PEND | TAG | 5000;
	filetail_note(t, &f->ev, 101 * MS);
	assert_int_equal(filetail_timeout_ms(t, 101 * MS, 50), 9);
	filetail_run(t, 105 * MS, 0);
	assert_int_equal(f->fed.len, 1000); /* not yet */
	assert_int_equal(f->slots[SLOT].word, TW_TAIL_PEND | TAG | 5000);
	filetail_run(t, 110 * MS, 0);
	assert_int_equal(f->fed.len, 4000);
	assert_int_equal(f->slots[SLOT].word, 0);
	filetail_free(t);
}

/* BUSY: the kernel has taken the slot and not yet published; try again. */
static void test_busy_slot_retried(void **state)
{
	struct fixture *f = *state;
	struct filetail *t = tail_new(f, 65536);

	f->slots[SLOT].word = TW_TAIL_BUSY;
	filetail_note(t, &f->ev, 1 * MS);
	filetail_run(t, 1 * MS, 0);
	assert_int_equal(f->fed.len, 0);
	assert_int_equal(f->slots[SLOT].word, TW_TAIL_BUSY); /* never cleared by us */
	assert_true(filetail_timeout_ms(t, 1 * MS, 5) <= 1);
	f->slots[SLOT].word = TW_TAIL_PEND | TAG | 3000; /* published */
	filetail_run(t, 2 * MS, 0);
	assert_fed_range(f, 1000, 2000);
	assert_int_equal(filetail_timeout_ms(t, 2 * MS, 5), 5); /* nothing pending */
	filetail_free(t);
}

/* Another run's tag in the slot: not ours, left alone. */
static void test_other_runs_slot_untouched(void **state)
{
	struct fixture *f = *state;
	struct filetail *t = tail_new(f, 65536);
	uint64_t other = TW_TAIL_PEND | (0x55ull << TW_TAIL_TAG_SHIFT) | 9000;

	f->slots[SLOT].word = other;
	filetail_note(t, &f->ev, 1 * MS);
	filetail_run(t, 1 * MS, 0);
	assert_int_equal(f->fed.len, 0);
	assert_int_equal(f->slots[SLOT].word, other);
	filetail_free(t);
}

/* Cut short before the read-back: what is left is read, the rest counted. */
static void test_truncated_file_counted(void **state)
{
	struct fixture *f = *state;
	struct filetail *t = tail_new(f, 65536);
	struct filetail_stats st;

	assert_int_equal(ftruncate(f->wfd, 50000), 0);
	f->slots[SLOT].word = TW_TAIL_PEND | TAG | 100000;
	filetail_note(t, &f->ev, 1 * MS);
	filetail_run(t, 1 * MS, 0);
	assert_fed_range(f, 1000, 49000);
	filetail_get_stats(t, &st);
	assert_int_equal(st.short_reads, 1);
	assert_int_equal(st.lost_bytes, 50000);
	filetail_free(t);
}

/* The writer's fd now names another file and the path another inode:
 * nothing is read, the range is counted lost. */
static void test_other_inode_rejected(void **state)
{
	struct fixture *f = *state;
	struct filetail *t = tail_new(f, 65536);
	struct filetail_stats st;

	f->ev.ino += 1;
	f->path_answer = f->path;
	f->slots[SLOT].word = TW_TAIL_PEND | TAG | 1500;
	filetail_note(t, &f->ev, 1 * MS);
	filetail_run(t, 1 * MS, 0);
	assert_int_equal(f->fed.len, 0);
	filetail_get_stats(t, &st);
	assert_int_equal(st.lost_ranges, 1);
	assert_int_equal(st.lost_bytes, 500);
	assert_int_equal(st.open_handles, 0);
	assert_int_equal(f->slots[SLOT].word, 0); /* taken anyway: the kernel may start anew */
	filetail_free(t);
}

/* The writer's fd is gone: the path the kernel sent is used. */
static void test_path_when_fd_gone(void **state)
{
	struct fixture *f = *state;
	struct filetail *t = tail_new(f, 65536);
	struct filetail_stats st;

	f->ev.fd = 987654; /* no such fd in this process */
	f->path_answer = f->path;
	f->slots[SLOT].word = TW_TAIL_PEND | TAG | 1700;
	filetail_note(t, &f->ev, 1 * MS);
	filetail_run(t, 1 * MS, 0);
	assert_fed_range(f, 1000, 700);
	filetail_get_stats(t, &st);
	assert_int_equal(st.via_path, 1);
	filetail_free(t);
}

/* A FIFO swapped in at the path with the notice's inode (as a hostile
 * writer could arrange) is never opened for reading: open would block. */
static void test_fifo_never_opened(void **state)
{
	struct fixture *f = *state;
	struct filetail *t = tail_new(f, 65536);
	struct filetail_stats st;
	char fifo[128];
	struct stat sb;

	snprintf(fifo, sizeof(fifo), "%s/fifo", f->dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(stat(fifo, &sb), 0);
	f->ev.fd = 987654;
	f->ev.ino = sb.st_ino;
	f->path_answer = fifo;
	f->slots[SLOT].word = TW_TAIL_PEND | TAG | 1100;
	filetail_note(t, &f->ev, 1 * MS);
	filetail_run(t, 1 * MS, 0); /* returns: nothing blocked */
	filetail_get_stats(t, &st);
	assert_int_equal(st.lost_ranges, 1);
	assert_int_equal(f->fed.len, 0);
	filetail_free(t);
}

static void test_malformed_notice_ignored(void **state)
{
	struct fixture *f = *state;
	struct filetail *t = tail_new(f, 65536);

	f->ev.slot = TW_TAIL_SLOTS;
	assert_int_equal(filetail_note(t, &f->ev, 1), -EINVAL);
	f->ev.slot = SLOT;
	f->ev.tag = 1; /* bits outside the tag field */
	assert_int_equal(filetail_note(t, &f->ev, 1), -EINVAL);
	f->ev.tag = TAG;
	f->ev.end = f->ev.start - 1;
	assert_int_equal(filetail_note(t, &f->ev, 1), -EINVAL);
	assert_int_equal(filetail_timeout_ms(t, 1, 5), 5);
	filetail_free(t);
}

/* Shutdown reads what is pending whatever its due time. */
static void test_run_all_ignores_due(void **state)
{
	struct fixture *f = *state;
	struct filetail *t = tail_new(f, 65536);

	f->slots[SLOT].word = TW_TAIL_PEND | TAG | 1200;
	filetail_note(t, &f->ev, 1 * MS);
	filetail_run(t, 1 * MS, 0);
	f->ev.start = f->ev.end = 1200;
	f->slots[SLOT].word = TW_TAIL_PEND | TAG | 1300;
	filetail_note(t, &f->ev, 2 * MS);
	filetail_run(t, 2 * MS, 1);
	assert_fed_range(f, 1000, 300);
	filetail_free(t);
}

/* A pending slot whose notice never came is freed after five sweeps and
 * counted; one with its run here, or not pending, is left alone. */
static void test_orphaned_slot_freed(void **state)
{
	struct fixture *f = *state;
	struct filetail *t = tail_new(f, 65536);
	struct filetail_stats st;
	uint64_t now = 10 * 1000 * MS;

	f->slots[SLOT].word = TW_TAIL_PEND | TAG | 5000;   /* no notice */
	f->slots[SLOT + 1].word = TW_TAIL_BUSY;             /* mid-claim: not pending */
	for (int i = 0; i < 4; i++, now += 1000 * MS)
		filetail_run(t, now, 0);
	assert_int_equal(f->slots[SLOT].word, TW_TAIL_PEND | TAG | 5000);
	filetail_run(t, now, 0);
	assert_int_equal(f->slots[SLOT].word, 0);
	assert_int_equal(f->slots[SLOT + 1].word, TW_TAIL_BUSY);
	filetail_get_stats(t, &st);
	assert_int_equal(st.orphaned, 1);
	filetail_free(t);
}

/* A backlog is read over several turns of the loop, within the budget;
 * a new run on the slot finishes the old range first. */
static void test_budget_spreads_backlog(void **state)
{
	struct fixture *f = *state;
	struct filetail_opts o = { .delay_ms = 10, .piece_bytes = 32768, .read_budget = 32768 };
	struct filetail *t = filetail_new(f->slots, &o, feed, path_of, f);
	struct filetail_stats st;

	f->slots[SLOT].word = TW_TAIL_PEND | TAG | 100000;
	filetail_note(t, &f->ev, 1 * MS);
	filetail_run(t, 1 * MS, 0);
	assert_int_equal(f->fed.len, 32768);
	assert_int_equal(f->slots[SLOT].word, 0); /* taken at once, read over turns */
	assert_int_equal(filetail_timeout_ms(t, 1 * MS, 5), 0);
	filetail_run(t, 1 * MS, 0);
	assert_int_equal(f->fed.len, 65536);

	/* the writer goes on: the kernel claims the slot anew */
	f->ev.start = f->ev.end = 100000;
	f->slots[SLOT].word = TW_TAIL_PEND | TAG | 100000; /* nothing written yet: empty run */
	assert_int_equal(filetail_note(t, &f->ev, 2 * MS), 0);
	assert_fed_range(f, 1000, 99000); /* the old range finished first */
	filetail_run(t, 20 * MS, 0);
	assert_int_equal(f->slots[SLOT].word, 0);
	filetail_get_stats(t, &st);
	assert_int_equal(st.bytes, 99000);
	assert_int_equal(st.reads, 1);
	assert_int_equal(filetail_timeout_ms(t, 20 * MS, 5), 5);
	filetail_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reads_range_in_pieces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_limited_per_slot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busy_slot_retried, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_runs_slot_untouched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_file_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_inode_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_path_when_fd_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo_never_opened, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_notice_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_all_ignores_due, setup, teardown),
		cmocka_unit_test_setup_teardown(test_orphaned_slot_freed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_budget_spreads_backlog, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
