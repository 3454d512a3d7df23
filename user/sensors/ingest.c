/*
 * Ingest: one loop turn from the kernel's ring and slots to captures.
 * The route every record takes, and why in that order, is in ingest.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "lib/log.h"
#include "lib/util.h"
#include "sensors/ingest_priv.h"
#include "sensors/proctable.h"

#define EXITED_GRACE_NS (5 * 1000000000ull) /* exited processes kept for late records */

static uint64_t now_mono(void)
{
	return util_now_ns(CLOCK_MONOTONIC);
}

/* The one route of every record, from the ring or synthesized by a reader. */
static int on_record(void *vctx, const void *rec, size_t len)
{
	struct ingest *in = vctx;
	const struct tw_hdr *h = rec;

	/* A send that sealed a batch: the batch's bytes were sent before it. */
	if (h->type == TW_EV_SOCK_SEND && in->batch && len >= sizeof(struct tw_io_event) &&
	    ((const struct tw_io_event *)rec)->batch_slot)
		sockbatch_sealed(in->batch, ((const struct tw_io_event *)rec)->batch_slot, now_mono());
	if (h->type == TW_EV_TLS_BIND && in->batch && len >= sizeof(struct tw_tls_bind_event) &&
	    ((const struct tw_tls_bind_event *)rec)->batch_slot)
		sockbatch_sealed(in->batch, ((const struct tw_tls_bind_event *)rec)->batch_slot,
				 now_mono());
	capture_feed(in->cap, rec, len);
	if (h->type == TW_EV_FILE_TAIL && in->tail && len >= sizeof(struct tw_tail_event))
		filetail_note(in->tail, rec, now_mono());
	if (h->type == TW_EV_SOCK_BATCH && in->batch && len >= sizeof(struct tw_batch_event))
		sockbatch_note(in->batch, rec, now_mono());
	if (in->hooks.on_record)
		in->hooks.on_record(in->hooks.ctx, rec, len);
	return 0;
}

static const char *tail_path(void *vctx, uint64_t file_id)
{
	return capture_path(((struct ingest *)vctx)->cap, file_id);
}

/* The readers: a tail's read-back and a batch's bytes take on_record too. */
static int open_readers(struct ingest *in)
{
	struct tw_tail_slot *ts = monitor_tail_slots(in->mon);
	struct tw_batch_slot *bs = monitor_batch_slots(in->mon);

	in->opts.tail.piece_bytes = in->opts.mon.capture_bytes;
	if (ts && !(in->tail = filetail_new(ts, &in->opts.tail, on_record, tail_path, in)))
		return -ENOMEM;
	if (bs && !(in->batch = sockbatch_new(bs, &in->opts.batch, on_record, in)))
		return -ENOMEM;
	return 0;
}

int ingest_open(const struct ingest_opts *o, const struct ingest_hooks *h, struct ingest **out,
		char *err, size_t errsz)
{
	struct ingest *in = calloc(1, sizeof(*in));
	int r = -ENOMEM;

	*out = NULL;
	if (!in)
		goto fail;
	in->opts = *o;
	in->hooks = *h;
	if (!(in->cap = capture_new(&in->opts.cap, h->on_capture, h->on_connect, h->ctx)))
		goto fail;
	if ((r = monitor_open(&in->opts.mon, on_record, in, &in->mon, err, errsz)))
		goto fail_quiet;
	if ((r = open_readers(in)))
		goto fail;
	*out = in;
	return 0;
fail:
	snprintf(err, errsz, "cannot start the sensors' readers: %s", strerror(-r));
fail_quiet:
	ingest_close(in);
	return r;
}

int ingest_sweep(struct ingest *in, const char *procdir)
{
	int r = sweep_run(in->cap, procdir, getpid(), &in->sweep);

	in->swept = 1;
	if (r)
		log_warn("startup sweep of %s incomplete: %s", procdir, strerror(r < 0 ? -r : EIO));
	log_info("swept %u running processes (%u exited meanwhile, %u kernel threads skipped)",
		 in->sweep.procs, in->sweep.vanished, in->sweep.kthreads);
	return r;
}

int ingest_poll(struct ingest *in, int max_wait_ms)
{
	uint64_t now = now_mono();
	int wait_ms = max_wait_ms, r;

	if (in->tail)
		wait_ms = filetail_timeout_ms(in->tail, now, wait_ms);
	if (in->batch)
		wait_ms = sockbatch_timeout_ms(in->batch, now, wait_ms);
	r = monitor_poll(in->mon, wait_ms);
	now = now_mono();
	if (in->tail)
		filetail_run(in->tail, now, 0);
	if (in->batch)
		sockbatch_run(in->batch, now, 0);
	return r;
}

void ingest_tick(struct ingest *in)
{
	capture_flush(in->cap, 0);
	ingest_warn_losses(in);
	proctable_expire(util_now_ns(CLOCK_BOOTTIME), EXITED_GRACE_NS);
}

void ingest_drain(struct ingest *in)
{
	monitor_poll(in->mon, 0);
	if (in->tail)
		filetail_run(in->tail, now_mono(), 1);
	if (in->batch)
		sockbatch_run(in->batch, now_mono(), 1);
	capture_flush(in->cap, 1);
	ingest_warn_losses(in);
}

void ingest_keep_tail(struct ingest *in, size_t n)
{
	capture_keep_tail(in->cap, n);
}

void ingest_close(struct ingest *in)
{
	if (!in)
		return;
	filetail_free(in->tail);
	sockbatch_free(in->batch);
	monitor_close(in->mon);
	capture_free(in->cap);
	proctable_reset();
	free(in);
}
