/* Verdict lines POSTed in batches, with retry (see webhook.h). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include "lib/log.h"
#include "lib/util.h"
#include "output/webhook.h"

struct webhook_out {
	struct output_cfg cfg;    /* url owned */
	pthread_t th;
	unsigned backoff_base_cfg; /* as configured (0 is run as 1 ms): for webhook_out_same */
	int started, stopping, exited;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char **q;                 /* ring of queue slots */
	size_t head, n;
	uint64_t sent, failed_posts, dropped, batches;
	long last_status;
};

static size_t discard(char *p, size_t sz, size_t n, void *u)
{
	(void)p;
	(void)u;
	return sz * n;
}

/* One POST of body; the HTTP status, or 0 when there was none. */
static long post(CURL *h, const struct webhook_out *w, const char *body, size_t len)
{
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
	long status = 0;

	curl_easy_setopt(h, CURLOPT_URL, w->cfg.url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)len);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)w->cfg.timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)w->cfg.timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdr);
	return status;
}

/* Take up to batch lines from the queue into a JSON array; mu held.
 * Returns the count taken; *body is malloc'd. */
static size_t take_batch(struct webhook_out *w, char **body, size_t *len)
{
	size_t k = 0, total = 2, cap = w->cfg.queue;
	char *b;

	for (size_t i = 0; i < w->n && i < w->cfg.batch; i++)
		total += strlen(w->q[(w->head + i) % cap]) + 1;
	if (!(b = malloc(total + 1)))
		return 0;
	b[0] = '[';
	*len = 1;
	for (; k < w->n && k < w->cfg.batch; k++) {
		char *line = w->q[(w->head + k) % cap];
		size_t l = strlen(line);

		if (k)
			b[(*len)++] = ',';
		memcpy(b + *len, line, l);
		*len += l;
		free(line);
	}
	b[(*len)++] = ']';
	b[*len] = 0;
	w->head = (w->head + k) % cap;
	w->n -= k;
	*body = b;
	return k;
}

static void wait_ms(struct webhook_out *w, unsigned ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	while (!w->stopping && pthread_cond_timedwait(&w->cv, &w->mu, &ts) != ETIMEDOUT)
		;
}

/* POST one batch until it is taken, or until close (one last try). mu held on entry and exit. */
static void deliver(struct webhook_out *w, CURL *h, char *body, size_t len, size_t k)
{
	unsigned delay = w->cfg.backoff_base_ms;

	for (;;) {
		int last = w->stopping;
		long st;

		pthread_mutex_unlock(&w->mu);
		st = post(h, w, body, len);
		pthread_mutex_lock(&w->mu);
		w->last_status = st;
		if (st >= 200 && st < 300) {
			w->sent += k;
			w->batches++;
			return;
		}
		w->failed_posts++;
		if (last || w->stopping) {
			w->dropped += k;
			return;
		}
		wait_ms(w, delay);
		delay = delay * 2 > w->cfg.backoff_max_ms ? w->cfg.backoff_max_ms : delay * 2;
	}
}

static void *run(void *arg)
{
	struct webhook_out *w = arg;
	CURL *h = curl_easy_init();

	pthread_mutex_lock(&w->mu);
	while (h) {
		char *body;
		size_t len, k;

		while (!w->n && !w->stopping)
			pthread_cond_wait(&w->cv, &w->mu);
		if (!w->n)
			break;
		if (!(k = take_batch(w, &body, &len)))
			break;
		deliver(w, h, body, len, k);
		free(body);
		/* closing: a receiver that takes them gets the rest of the
		 * queue; the first refusal ends it (each POST is bounded) */
		if (w->stopping && !(w->last_status >= 200 && w->last_status < 300))
			break;
	}
	/* closing: what is still queued is not sent */
	w->dropped += w->n;
	w->exited = 1;
	pthread_mutex_unlock(&w->mu);
	curl_easy_cleanup(h);
	return NULL;
}

int webhook_out_open(const struct output_cfg *cfg, struct webhook_out **out, char *err, size_t errsz)
{
	struct webhook_out *w = calloc(1, sizeof(*w));
	int r;

	*out = NULL;
	if (!w || !(w->q = calloc(cfg->queue, sizeof(char *))) || !(w->cfg.url = strdup(cfg->url))) {
		if (w)
			free(w->q);
		free(w);
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	w->cfg.batch = cfg->batch;
	w->cfg.queue = cfg->queue;
	w->cfg.timeout_ms = cfg->timeout_ms;
	w->backoff_base_cfg = cfg->backoff_base_ms;
	w->cfg.backoff_base_ms = cfg->backoff_base_ms ? cfg->backoff_base_ms : 1;
	w->cfg.backoff_max_ms = cfg->backoff_max_ms;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if ((r = pthread_create(&w->th, NULL, run, w))) {
		snprintf(err, errsz, "webhook output: cannot start its thread: %s", strerror(r));
		webhook_out_close(w);
		return -1;
	}
	w->started = 1;
	*out = w;
	return 0;
}

int webhook_out_push(struct webhook_out *w, const char *line)
{
	char *copy = NULL;
	int r = -1;

	pthread_mutex_lock(&w->mu);
	if (w->n < w->cfg.queue && (copy = strdup(line))) {
		w->q[(w->head + w->n++) % w->cfg.queue] = copy;
		pthread_cond_signal(&w->cv);
		r = 0;
	} else {
		w->dropped++;
	}
	pthread_mutex_unlock(&w->mu);
	return r;
}

void webhook_out_status(struct webhook_out *w, cJSON *o)
{
	pthread_mutex_lock(&w->mu);
	cJSON_AddNumberToObject(o, "sent", (double)w->sent);
	cJSON_AddNumberToObject(o, "posts", (double)w->batches);
	cJSON_AddNumberToObject(o, "failed_posts", (double)w->failed_posts);
	cJSON_AddNumberToObject(o, "dropped", (double)w->dropped);
	cJSON_AddNumberToObject(o, "queued_now", (double)w->n);
	pthread_mutex_unlock(&w->mu);
}

unsigned long long webhook_out_failures(struct webhook_out *w)
{
	unsigned long long n;

	pthread_mutex_lock(&w->mu);
	n = w->failed_posts + w->dropped;
	pthread_mutex_unlock(&w->mu);
	return n;
}

int webhook_out_same(const struct webhook_out *w, const struct output_cfg *c)
{
	return !strcmp(w->cfg.url, c->url) && w->cfg.batch == c->batch && w->cfg.queue == c->queue &&
	       w->cfg.timeout_ms == c->timeout_ms && w->backoff_base_cfg == c->backoff_base_ms &&
	       w->cfg.backoff_max_ms == c->backoff_max_ms;
}

void webhook_out_stop(struct webhook_out *w)
{
	pthread_mutex_lock(&w->mu);
	w->stopping = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

int webhook_out_finished(struct webhook_out *w)
{
	int done;

	pthread_mutex_lock(&w->mu);
	done = !w->started || w->exited;
	pthread_mutex_unlock(&w->mu);
	return done;
}

void webhook_out_close(struct webhook_out *w)
{
	if (!w)
		return;
	if (w->started) {
		webhook_out_stop(w);
		pthread_join(w->th, NULL);
	}
	for (size_t i = 0; i < w->n; i++)
		free(w->q[(w->head + i) % w->cfg.queue]);
	if (w->n)
		log_warn("webhook output %s: %zu verdicts not sent at exit", w->cfg.url, w->n);
	free(w->q);
	free(w->cfg.url);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}
