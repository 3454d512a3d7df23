/*
 * The reader (the caller's thread) fills fixed-size pieces and hands them
 * to workers; it also delivers findings, strictly in input order, so the
 * output of a parallel scan is the same as that of a serial one. Each
 * piece starts with the last detector_overlap() bytes of the one before
 * and reports only the matches that start in its own region, which is
 * what lets a token straddle a boundary (detect.h explains the region).
 * Memory is the pool of pieces, whatever the input: a line of 100 MB is
 * just many pieces.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#ifdef __x86_64__
#include <immintrin.h>
#endif
#include "detect/coverage.h"
#include "detect/scan.h"
#include "lib/safefile.h"

#define DEFAULT_CHUNK (4u << 20)
#define BINARY_PROBE  8192
#define GZ_IN_SIZE    (256u << 10)
#define NONE          ((size_t)-1)

enum { J_FREE = 0, J_FILLING, J_QUEUED, J_RUNNING, J_DONE };

struct stream {
	char *path;
	uint64_t nl_base;      /* newlines before the next piece to emit */
	int64_t last_nl;       /* offset of the last newline emitted so far, -1 none */
	int nul_noted;
	int refs;
};

struct jfind {
	struct detect_match m;  /* m.start/len rebased onto the piece (raw_start/raw_len) */
	unsigned char *secret;  /* a view's decoded secret (m.len bytes), or NULL: in the piece */
	size_t seq;             /* order of report, to keep it among equal starts */
	size_t nl_before;      /* newlines in [lo, m.start) */
	size_t last_nl;        /* index of the last newline in [lo, m.start), or NONE */
};

struct job {
	unsigned char *buf;
	size_t len, lo, hi;
	uint64_t base;         /* stream offset of buf[0] */
	struct stream *st;
	uint64_t seq;
	int state;
	struct jfind *f;
	size_t nf, capf;
	size_t nsecrets;       /* findings in f holding a decoded secret of their own */
	size_t nl_total;       /* newlines in [lo, hi) */
	size_t last_nl;        /* index of the last newline in [lo, hi), or NONE */
	size_t nul_at;         /* index of a NUL in [lo, hi), or NONE */
	int err;
};

struct scanner {
	pthread_mutex_t mu;
	pthread_cond_t work_cv, done_cv;
	pthread_t *threads;
	unsigned nthreads, started;
	struct detector **det;
	struct job *jobs;
	unsigned njobs;
	uint64_t next_seq, emit_seq;
	int quit;
	int stop;              /* a callback's non-zero value */
	size_t chunk, overlap, bufcap;
	struct scan_opts o;
	struct scan_stats st;
	scan_finding_fn fn;
	scan_notice_fn note;
	void *ctx;
};

#ifdef __x86_64__
/* The AVX2 step of scan_count_newlines: 32 bytes a step, lanes summed by
 * vpsadbw before any can pass 255. *i: where it stopped. */
__attribute__((target("avx2"))) static size_t count_nl_avx2(const unsigned char *p, size_t n, size_t *i)
{
	const __m256i nl = _mm256_set1_epi8('\n'), zero = _mm256_setzero_si256();
	size_t c = 0, k = *i;

	while (k + 32 <= n) {
		__m256i acc = zero, sum;
		size_t end = n - k > 255 * 32 ? k + 255 * 32 : n - ((n - k) & 31);

		for (; k < end; k += 32)
			acc = _mm256_sub_epi8(acc, _mm256_cmpeq_epi8(_mm256_loadu_si256((const __m256i *)(p + k)), nl));
		sum = _mm256_sad_epu8(acc, zero);
		c += (size_t)_mm256_extract_epi64(sum, 0) + (size_t)_mm256_extract_epi64(sum, 1) +
		     (size_t)_mm256_extract_epi64(sum, 2) + (size_t)_mm256_extract_epi64(sum, 3);
	}
	*i = k;
	return c;
}

static int nl_avx2 = -1;
#endif

size_t scan_count_newlines(const unsigned char *p, size_t n)
{
	size_t c = 0, i = 0;

#ifdef __x86_64__
	/* a scan counts every byte of its input: 32 a step where the CPU can */
	int avx2 = __atomic_load_n(&nl_avx2, __ATOMIC_RELAXED);

	if (avx2 < 0) /* every thread finds the same: a relaxed store is enough */
		__atomic_store_n(&nl_avx2, avx2 = __builtin_cpu_supports("avx2"), __ATOMIC_RELAXED);
	if (avx2 && n >= 64)
		c = count_nl_avx2(p, n, &i);
#endif

#ifdef __SSE2__
	/* Sixteen bytes a step: each '\n' adds one to its byte lane (a
	 * compare gives -1, subtracted), the lanes summed by psadbw before any
	 * can pass 255. Every x86-64 has SSE2; the word-at-a-time loop
	 * below cost 4-5% of a scan of JSON logs. */
	const __m128i nl = _mm_set1_epi8('\n'), zero = _mm_setzero_si128();

	while (i + 16 <= n) {
		__m128i acc = zero, sum;
		size_t end = n - i > 255 * 16 ? i + 255 * 16 : n - ((n - i) & 15);

		for (; i < end; i += 16)
			acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(p + i)), nl));
		sum = _mm_sad_epu8(acc, zero);
		c += (size_t)_mm_cvtsi128_si64(sum) + (size_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(sum, sum));
	}
#endif
	/* Eight bytes at a time: a byte of x is zero exactly where p had '\n';
	 * t's top bit is clear in exactly those bytes. The set bits are
	 * counted with a multiply: the baseline x86-64 has no popcount
	 * instruction, and libgcc's fallback cost 3% of a scan. */
	for (; i + 8 <= n; i += 8) {
		uint64_t w, x, t;
		memcpy(&w, p + i, 8);
		x = w ^ 0x0a0a0a0a0a0a0a0aULL;
		t = ((x & 0x7f7f7f7f7f7f7f7fULL) + 0x7f7f7f7f7f7f7f7fULL) | x;
		t = (t & 0x8080808080808080ULL) >> 7; /* 1 in each byte without '\n' */
		c += 8 - (size_t)((t * 0x0101010101010101ULL) >> 56);
	}
	for (; i < n; i++)
		c += p[i] == '\n';
	return c;
}

static void notef(struct scanner *s, const char *path, int error, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void notef(struct scanner *s, const char *path, int error, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (error)
		s->st.errors++;
	if (!s->note)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->note(s->ctx, path, error, msg);
}

/* ---- workers ---- */

static int collect(void *vctx, const struct detect_match *m, const unsigned char *buf, size_t len)
{
	struct job *j = vctx;
	struct jfind *f;
	(void)len;
	if (m->raw_start < j->lo || m->raw_start >= j->hi)
		return 0;
	if (j->nf == j->capf) {
		size_t cap = j->capf ? j->capf * 2 : 16;
		struct jfind *nf = realloc(j->f, cap * sizeof(*nf));
		if (!nf)
			return -ENOMEM;
		j->f = nf;
		j->capf = cap;
	}
	f = &j->f[j->nf];
	f->m = *m;
	f->secret = NULL;
	f->seq = j->nf;
	if (m->decoded) {
		/* the view is gone after the callback: keep the secret (wiped
		 * after its finding is emitted) */
		if (!(f->secret = malloc(m->len ? m->len : 1)))
			return -ENOMEM;
		j->nsecrets++;
		memcpy(f->secret, buf + m->start, m->len);
	}
	j->nf++;
	return 0;
}

/* Findings from views come after the raw ones: put all in order of where
 * their bytes are, for the line sweep and the output. */
static int jfind_cmp(const void *a, const void *b)
{
	const struct jfind *x = a, *y = b;

	if (x->m.raw_start != y->m.raw_start)
		return x->m.raw_start < y->m.raw_start ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Without findings from views they come in order already: a pass over
 * them is cheaper than sorting a hundred thousand. */
static int jfind_sorted(const struct job *j)
{
	for (size_t i = 1; i < j->nf; i++)
		if (jfind_cmp(&j->f[i - 1], &j->f[i]) > 0)
			return 0;
	return 1;
}

static void jfind_clear(struct job *j)
{
	for (size_t i = 0; i < j->nf && j->nsecrets; i++) {
		if (j->f[i].secret) {
			explicit_bzero(j->f[i].secret, j->f[i].m.len);
			free(j->f[i].secret);
			j->f[i].secret = NULL;
			j->nsecrets--; /* none left: stop looking */
		}
	}
	j->nf = 0;
	j->nsecrets = 0;
}

static void job_run(struct job *j, struct detector *d)
{
	size_t pos = j->lo, nl = 0, last = NONE;
	const unsigned char *p;

	jfind_clear(j);
	detector_set_region(d, j->lo, j->hi);
	j->err = detector_scan(d, j->buf, j->len, collect, j);
	if (j->nf > 1 && !jfind_sorted(j))
		qsort(j->f, j->nf, sizeof(*j->f), jfind_cmp);
	/* Matches come in order of start, so one sweep gives each its line
	 * and column: each byte is looked at once, however many findings
	 * share a line (searching back to the piece's start for every one
	 * made a long line of findings quadratic). */
	for (size_t i = 0; i < j->nf; i++) {
		size_t at = j->f[i].m.raw_start, k = scan_count_newlines(j->buf + pos, at - pos);

		nl += k;
		j->f[i].nl_before = nl;
		/* findings a few bytes apart mostly share a line: no search */
		if (k && (p = memrchr(j->buf + pos, '\n', at - pos)))
			last = (size_t)(p - j->buf);
		j->f[i].last_nl = last;
		pos = at;
	}
	j->nl_total = nl + scan_count_newlines(j->buf + pos, j->hi - pos);
	p = memrchr(j->buf + j->lo, '\n', j->hi - j->lo);
	j->last_nl = p ? (size_t)(p - j->buf) : NONE;
	p = memchr(j->buf + j->lo, 0, j->hi - j->lo);
	j->nul_at = p ? (size_t)(p - j->buf) : NONE;
}

struct worker_arg {
	struct scanner *s;
	unsigned idx;
};

static void *worker(void *varg)
{
	struct worker_arg *a = varg;
	struct scanner *s = a->s;
	struct detector *d = s->det[a->idx];

	pthread_mutex_lock(&s->mu);
	for (;;) {
		struct job *pick = NULL;
		for (unsigned i = 0; i < s->njobs; i++)
			if (s->jobs[i].state == J_QUEUED && (!pick || s->jobs[i].seq < pick->seq))
				pick = &s->jobs[i];
		if (!pick) {
			if (s->quit)
				break;
			pthread_cond_wait(&s->work_cv, &s->mu);
			continue;
		}
		pick->state = J_RUNNING;
		pthread_mutex_unlock(&s->mu);
		job_run(pick, d);
		pthread_mutex_lock(&s->mu);
		pick->state = J_DONE;
		pthread_cond_broadcast(&s->done_cv);
	}
	pthread_mutex_unlock(&s->mu);
	free(a);
	return NULL;
}

/* ---- emitting, in order ---- */

static void stream_put(struct stream *st)
{
	if (st && --st->refs == 0) {
		free(st->path);
		free(st);
	}
}

static void job_emit(struct scanner *s, struct job *j)
{
	struct stream *st = j->st;

	if (j->err)
		notef(s, st->path, 1, "out of memory while scanning at offset %llu",
		      (unsigned long long)(j->base + j->lo));
	for (size_t i = 0; i < j->nf && !s->stop; i++) {
		struct jfind *f = &j->f[i];
		struct scan_finding sf = { .m = &f->m, .path = st->path,
					   .secret = f->secret ? f->secret : j->buf + f->m.start };
		uint64_t line_start = f->last_nl != NONE ? j->base + f->last_nl + 1 : (uint64_t)(st->last_nl + 1);

		sf.offset = j->base + f->m.raw_start;
		sf.line = st->nl_base + f->nl_before + 1;
		sf.column = sf.offset - line_start + 1;
		s->st.findings++;
		s->stop = s->fn(s->ctx, &sf);
	}
	if (j->nul_at != NONE && !st->nul_noted) {
		st->nul_noted = 1;
		notef(s, st->path, 0, "NUL byte at offset %llu; scanning on as text",
		      (unsigned long long)(j->base + j->nul_at));
	}
	st->nl_base += j->nl_total;
	if (j->last_nl != NONE)
		st->last_nl = (int64_t)(j->base + j->last_nl);
	jfind_clear(j); /* decoded secrets wiped */
	stream_put(st);
	j->st = NULL;
}

/* Emit the oldest piece once it is done. Called with the lock held. */
static void emit_oldest(struct scanner *s)
{
	struct job *j = NULL;

	for (;;) {
		for (unsigned i = 0; i < s->njobs; i++)
			if (s->jobs[i].state >= J_QUEUED && s->jobs[i].seq == s->emit_seq)
				j = &s->jobs[i];
		if (j && j->state == J_DONE)
			break;
		pthread_cond_wait(&s->done_cv, &s->mu);
		j = NULL;
	}
	pthread_mutex_unlock(&s->mu);
	job_emit(s, j);
	pthread_mutex_lock(&s->mu);
	j->state = J_FREE;
	s->emit_seq++;
}

static struct job *job_get(struct scanner *s)
{
	pthread_mutex_lock(&s->mu);
	for (;;) {
		for (unsigned i = 0; i < s->njobs; i++) {
			if (s->jobs[i].state == J_FREE) {
				s->jobs[i].state = J_FILLING;
				s->jobs[i].seq = UINT64_MAX;
				pthread_mutex_unlock(&s->mu);
				return &s->jobs[i];
			}
		}
		emit_oldest(s);
	}
}

static void job_release(struct scanner *s, struct job *j)
{
	pthread_mutex_lock(&s->mu);
	j->state = J_FREE;
	pthread_mutex_unlock(&s->mu);
}

static void job_submit(struct scanner *s, struct job *j)
{
	pthread_mutex_lock(&s->mu);
	j->seq = s->next_seq++;
	j->state = J_QUEUED;
	pthread_cond_signal(&s->work_cv);
	pthread_mutex_unlock(&s->mu);
}

static void drain(struct scanner *s)
{
	pthread_mutex_lock(&s->mu);
	while (s->emit_seq < s->next_seq)
		emit_oldest(s);
	pthread_mutex_unlock(&s->mu);
}

/* ---- sources: plain or gzip, from any descriptor ---- */

struct src {
	int fd;
	int gz;
	int eof, err;
	char errmsg[160];
	unsigned char peek[2];
	size_t npeek, ppos;
	z_stream zs;
	int zinit, in_eof, member_done;
	unsigned char *in;
};

static ssize_t read_full_once(int fd, void *p, size_t n)
{
	ssize_t r;

	do
		r = read(fd, p, n);
	while (r < 0 && errno == EINTR);
	return r;
}

static int src_open(struct src *r, int fd)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	while (r->npeek < 2) {
		ssize_t n = read_full_once(fd, r->peek + r->npeek, 2 - r->npeek);
		if (n < 0) {
			snprintf(r->errmsg, sizeof(r->errmsg), "read: %s", strerror(errno));
			return -1;
		}
		if (n == 0)
			break;
		r->npeek += (size_t)n;
	}
	if (r->npeek == 2 && r->peek[0] == 0x1f && r->peek[1] == 0x8b) {
		r->gz = 1;
		r->in = malloc(GZ_IN_SIZE);
		if (!r->in || inflateInit2(&r->zs, 16 + MAX_WBITS) != Z_OK) {
			snprintf(r->errmsg, sizeof(r->errmsg), "out of memory");
			return -1;
		}
		r->zinit = 1;
		memcpy(r->in, r->peek, 2);
		r->zs.next_in = r->in;
		r->zs.avail_in = 2;
	}
	return 0;
}

static void src_close(struct src *r)
{
	if (r->zinit)
		inflateEnd(&r->zs);
	free(r->in);
}

static ssize_t src_read_gz(struct src *r, unsigned char *out, size_t n)
{
	r->zs.next_out = out;
	r->zs.avail_out = (uInt)n;
	while (r->zs.avail_out == n) {
		if (r->zs.avail_in == 0 && !r->in_eof) {
			ssize_t got = read_full_once(r->fd, r->in, GZ_IN_SIZE);
			if (got < 0) {
				snprintf(r->errmsg, sizeof(r->errmsg), "read: %s", strerror(errno));
				r->err = 1;
				return -1;
			}
			if (got == 0)
				r->in_eof = 1;
			r->zs.next_in = r->in;
			r->zs.avail_in = (uInt)got;
		}
		if (r->member_done) {
			if (r->zs.avail_in == 0 && r->in_eof) {
				r->eof = 1;
				return 0;
			}
			/* Concatenated members (as `cat a.gz b.gz` makes) are one stream. */
			inflateReset(&r->zs);
			r->member_done = 0;
		}
		int zr = inflate(&r->zs, Z_NO_FLUSH);
		if (zr == Z_STREAM_END) {
			r->member_done = 1;
			continue;
		}
		if (zr == Z_BUF_ERROR && r->zs.avail_in == 0 && r->in_eof) {
			snprintf(r->errmsg, sizeof(r->errmsg), "gzip data truncated after %lu bytes", r->zs.total_out);
			r->err = 1;
			return -1;
		}
		if (zr != Z_OK && zr != Z_BUF_ERROR) {
			snprintf(r->errmsg, sizeof(r->errmsg), "gzip data corrupt (%s)",
				 r->zs.msg ? r->zs.msg : "inflate failed");
			r->err = 1;
			return -1;
		}
	}
	return (ssize_t)(n - r->zs.avail_out);
}

static ssize_t src_read(struct src *r, unsigned char *out, size_t n)
{
	if (r->gz)
		return src_read_gz(r, out, n);
	if (r->ppos < r->npeek) {
		size_t k = r->npeek - r->ppos < n ? r->npeek - r->ppos : n;
		memcpy(out, r->peek + r->ppos, k);
		r->ppos += k;
		return (ssize_t)k;
	}
	ssize_t got = read_full_once(r->fd, out, n);
	if (got < 0) {
		snprintf(r->errmsg, sizeof(r->errmsg), "read: %s", strerror(errno));
		r->err = 1;
	} else if (got == 0) {
		r->eof = 1;
	}
	return got;
}

/* Fill out[0..n) unless the stream ends first; returns the count. */
static size_t src_fill(struct src *r, unsigned char *out, size_t n)
{
	size_t have = 0;

	while (have < n && !r->eof && !r->err) {
		ssize_t got = src_read(r, out + have, n - have);
		if (got <= 0)
			break;
		have += (size_t)got;
	}
	return have;
}

/* ---- streams ---- */

int scanner_scan_fd(struct scanner *s, int fd, const char *name, scan_finding_fn fn, scan_notice_fn note, void *ctx)
{
	struct src r;
	struct stream *st;
	unsigned char *tail;
	uint64_t base = 0;
	size_t K = s->overlap;
	int first = 1;

	s->fn = fn;
	s->note = note;
	s->ctx = ctx;
	if (s->stop)
		return s->stop;
	if (src_open(&r, fd)) {
		notef(s, name, 1, "%s", r.errmsg);
		src_close(&r);
		return 0;
	}
	st = calloc(1, sizeof(*st));
	tail = malloc(K);
	if (!st || !tail || !(st->path = strdup(name))) {
		notef(s, name, 1, "out of memory");
		free(tail);
		if (st)
			free(st->path);
		free(st);
		src_close(&r);
		return 0;
	}
	st->last_nl = -1;
	st->refs = 1;
	s->st.files++;
	for (;;) {
		struct job *j = job_get(s);
		size_t ov = first ? 0 : K, want = s->bufcap - ov, got;
		int eof;

		if (ov)
			memcpy(j->buf, tail, ov);
		got = src_fill(&r, j->buf + ov, want);
		eof = got < want;
		if (first && !s->o.binary) {
			const unsigned char *z = memchr(j->buf, 0, got < BINARY_PROBE ? got : BINARY_PROBE);
			if (z) {
				job_release(s, j);
				s->st.skipped++;
				notef(s, name, 0, "binary file (NUL byte at offset %zu), skipped; --binary scans it",
				      (size_t)(z - j->buf));
				break;
			}
		}
		/* Even with nothing new, a later piece reports the last K/2 bytes
		 * that the one before held back. */
		j->len = ov + got;
		if (first && got == 0) {
			job_release(s, j);
			break;
		}
		j->base = base;
		j->lo = first ? 0 : K / 2;
		j->hi = eof ? j->len : j->len - K / 2;
		j->st = st;
		st->refs++;
		s->st.bytes += got;
		if (!eof)
			memcpy(tail, j->buf + j->len - K, K);
		base += j->len - K;
		job_submit(s, j);
		first = 0;
		if (eof)
			break;
	}
	if (r.err)
		notef(s, name, 1, "%s (scanned what came before)", r.errmsg);
	drain(s);
	stream_put(st);
	free(tail);
	src_close(&r);
	return s->stop;
}

/* A FIFO or a device could block or never end, named or met in a walk
 * (and a name can be swapped for one after the walk looked): only regular
 * files are read; a pipe comes in on standard input. Messages never
 * repeat the path: the caller prints it redacted. */
static int scan_file(struct scanner *s, const char *path, int explicit)
{
	int fd = safefile_open_read(path, 0, NULL, 0);
	struct stat st;
	int rc;

	if (fd == -EINVAL || fd == -EISDIR) {
		const char *what = stat(path, &st) ? "gone" : safefile_kind(st.st_mode);

		if (explicit) {
			notef(s, path, 1, "not a regular file (%s); refusing it (pipe it to "
			      "'tokenward scan -' instead)", what);
		} else {
			s->st.skipped++;
			notef(s, path, 0, "not a regular file (%s), skipped", what);
		}
		return 0;
	}
	if (fd < 0) {
		notef(s, path, 1, "cannot open: %s", strerror(-fd));
		return 0;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	rc = scanner_scan_fd(s, fd, path, s->fn, s->note, s->ctx);
	close(fd);
	return rc;
}

static int not_dots(const struct dirent *d)
{
	return strcmp(d->d_name, ".") && strcmp(d->d_name, "..");
}

static int walk(struct scanner *s, const char *path, int explicit)
{
	struct stat st;

	if (s->stop)
		return s->stop;
	if (lstat(path, &st)) {
		notef(s, path, 1, "%s", strerror(errno));
		return 0;
	}
	if (S_ISLNK(st.st_mode)) {
		if (stat(path, &st)) {
			s->st.skipped++;
			notef(s, path, 0, "dangling symbolic link (%s), skipped", strerror(errno));
			return 0;
		}
		/* Following links to directories could loop; given ones are followed. */
		if (S_ISDIR(st.st_mode) && !explicit) {
			s->st.skipped++;
			return 0;
		}
	}
	if (S_ISDIR(st.st_mode)) {
		struct dirent **names;
		int n = scandir(path, &names, not_dots, alphasort), rc = 0;
		if (n < 0) {
			notef(s, path, 1, "cannot read directory: %s", strerror(errno));
			return 0;
		}
		for (int i = 0; i < n; i++) {
			if (!rc) {
				size_t pl = strlen(path);
				char *child = malloc(pl + strlen(names[i]->d_name) + 2);
				if (!child) {
					notef(s, path, 1, "out of memory");
				} else {
					sprintf(child, "%s%s%s", path, pl && path[pl - 1] == '/' ? "" : "/", names[i]->d_name);
					rc = walk(s, child, 0);
					free(child);
				}
			}
			free(names[i]);
		}
		free(names);
		return rc;
	}
	if (!S_ISREG(st.st_mode) && !explicit) {
		/* A FIFO or device met in a walk could block or never end. */
		s->st.skipped++;
		notef(s, path, 0, "not a regular file (%s), skipped", safefile_kind(st.st_mode));
		return 0;
	}
	return scan_file(s, path, explicit);
}

int scanner_scan_path(struct scanner *s, const char *path, scan_finding_fn fn, scan_notice_fn note, void *ctx)
{
	s->fn = fn;
	s->note = note;
	s->ctx = ctx;
	if (!strcmp(path, "-"))
		return scanner_scan_fd(s, 0, "-", fn, note, ctx);
	return walk(s, path, 1);
}

/* ---- lifetime ---- */

struct scanner *scanner_new(const struct ruleset *rs, const struct scan_opts *o, char *err, size_t errsz)
{
	struct scanner *s = calloc(1, sizeof(*s));
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (!s) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->work_cv, NULL);
	pthread_cond_init(&s->done_cv, NULL);
	s->o = *o;
	s->nthreads = o->threads ? o->threads : (ncpu > 0 ? (unsigned)ncpu : 1);
	if (s->nthreads > 64)
		s->nthreads = 64;
	s->chunk = o->chunk ? o->chunk : DEFAULT_CHUNK;
	s->det = calloc(s->nthreads, sizeof(*s->det));
	s->threads = calloc(s->nthreads, sizeof(*s->threads));
	if (!s->det || !s->threads) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	for (unsigned i = 0; i < s->nthreads; i++) {
		s->det[i] = detector_new(rs, err, errsz);
		if (!s->det[i])
			goto fail;
		/* a secret repeated densely is reported a few times per piece,
		 * the rest counted: each report costs a line of output */
		detector_set_flags(s->det[i], o->flags | DETECT_COLLAPSE_REPEATS);
		if (o->flood_cap)
			detector_set_flood_cap(s->det[i], o->flood_cap == SCAN_FLOOD_CAP_OFF ? 0 : o->flood_cap);
	}
	s->overlap = detector_overlap(s->det[0]);
	s->bufcap = s->chunk + s->overlap;
	/* Enough pieces for every worker to have one running and one queued. */
	s->njobs = 2 * s->nthreads + 2;
	s->jobs = calloc(s->njobs, sizeof(*s->jobs));
	if (!s->jobs) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	for (unsigned i = 0; i < s->njobs; i++) {
		s->jobs[i].buf = malloc(s->bufcap);
		if (!s->jobs[i].buf) {
			snprintf(err, errsz, "out of memory for %u pieces of %zu bytes", s->njobs, s->bufcap);
			goto fail;
		}
	}
	for (unsigned i = 0; i < s->nthreads; i++) {
		struct worker_arg *a = malloc(sizeof(*a));
		if (!a) {
			snprintf(err, errsz, "out of memory");
			goto fail;
		}
		a->s = s;
		a->idx = i;
		if (pthread_create(&s->threads[i], NULL, worker, a)) {
			free(a);
			snprintf(err, errsz, "cannot start a scan thread");
			goto fail;
		}
		s->started++;
	}
	return s;
fail:
	scanner_free(s);
	return NULL;
}

void scanner_set_known(struct scanner *s, detect_known_fn fn, void *ctx, const uint32_t *lengths, size_t n)
{
	/* Only between scans: no worker is running a piece now. */
	for (unsigned i = 0; i < s->nthreads; i++)
		detector_set_known(s->det[i], fn, ctx, lengths, n);
	s->overlap = detector_overlap(s->det[0]);
	if (s->chunk + s->overlap > s->bufcap) {
		for (unsigned i = 0; i < s->njobs; i++) {
			unsigned char *nb = realloc(s->jobs[i].buf, s->chunk + s->overlap);
			if (nb)
				s->jobs[i].buf = nb;
			else
				s->overlap = s->bufcap - s->chunk; /* keep what fits */
		}
		s->bufcap = s->chunk + s->overlap;
	}
}

/* Between scans: the workers are idle, their detectors' counters still. */
void scanner_stats(const struct scanner *s, struct scan_stats *out)
{
	*out = s->st;
	memset(&out->det, 0, sizeof(out->det));
	for (unsigned i = 0; i < s->nthreads; i++) {
		struct detect_stats ds;
		detector_stats(s->det[i], &ds);
		detect_stats_add(&out->det, &ds);
	}
}

void scanner_free(struct scanner *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->quit = 1;
	pthread_cond_broadcast(&s->work_cv);
	pthread_mutex_unlock(&s->mu);
	for (unsigned i = 0; i < s->started; i++)
		pthread_join(s->threads[i], NULL);
	for (unsigned i = 0; s->jobs && i < s->njobs; i++) {
		free(s->jobs[i].buf);
		jfind_clear(&s->jobs[i]);
		free(s->jobs[i].f);
	}
	free(s->jobs);
	for (unsigned i = 0; s->det && i < s->nthreads; i++)
		detector_free(s->det[i]);
	free(s->det);
	free(s->threads);
	pthread_cond_destroy(&s->work_cv);
	pthread_cond_destroy(&s->done_cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
