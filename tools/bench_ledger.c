/*
 * Ledger micro-benchmarks: in-process writes, lookups (the hash-set
 * cache side by side with an indexed SQLite query), and the cache's
 * refresh costs. Built and run by tools/bench-ledger.sh; prints one
 * "name value unit" line per figure (medians over alternating rounds).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>
#include "ledger/ledger.h"
#include "detect/redact.h"
#include "ledger/token.h"
#include "lib/util.h"

static double now_s(void)
{
	return util_now_ns(CLOCK_MONOTONIC) / 1e9;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmpd);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static char *aud[] = { "https://api.example.test" };

static void fill(struct ledger_token *t, char *tok)
{
	memset(t, 0, sizeof(*t));
	token_mint(tok);
	sha256_digest(tok, TOKEN_LEN, t->sha);
	redact_short(tok, TOKEN_LEN, t->redacted, sizeof(t->redacted));
	t->length = TOKEN_LEN;
	t->issuer = "tokenward";
	t->task = "bench";
	t->audience = aud;
	t->naudience = 1;
	t->issued_at = time(NULL);
	t->expires_at = time(NULL) + 3600;
}

static struct ledger *open_l(const char *path)
{
	struct ledger *l;
	char err[512];
	if (ledger_open(path, LEDGER_OPEN_CREATE, &l, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	return l;
}

/* Adds per second with the given synchronous mode. */
static double bench_add(const char *path, const char *sync, int n)
{
	struct ledger *l = open_l(path);
	char sql[64], tok[TOKEN_LEN + 1];
	double t0;
	snprintf(sql, sizeof(sql), "PRAGMA synchronous=%s", sync);
	sqlite3_exec(ledger_sqlite(l), sql, NULL, NULL, NULL);
	t0 = now_s();
	for (int i = 0; i < n; i++) {
		struct ledger_token t;
		fill(&t, tok);
		if (ledger_add(l, &t, NULL, 0))
			exit(1);
	}
	t0 = now_s() - t0;
	ledger_close(l);
	return n / t0;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	int ntok = argc > 2 ? atoi(argv[2]) : 100000, rounds = 5;
	char path[512], err[512];
	double a[16], b[16];

	/* --- writes: synchronous FULL (what the CLI uses) vs NORMAL --- */
	snprintf(path, sizeof(path), "%s/bench-add.db", dir);
	for (int r = 0; r < rounds; r++) {
		a[r] = bench_add(path, "FULL", 200);
		b[r] = bench_add(path, "NORMAL", 200);
	}
	printf("add_full %.0f tokens/s\n", median(a, rounds));
	printf("add_normal %.0f tokens/s\n", median(b, rounds));

	/* --- a big ledger for lookups --- */
	snprintf(path, sizeof(path), "%s/bench-lookup.db", dir);
	unlink(path);
	struct ledger *l = open_l(path);
	sqlite3 *db = ledger_sqlite(l);
	unsigned char (*hits)[32] = malloc((size_t)ntok * 32);
	char tok[TOKEN_LEN + 1];
	sqlite3_exec(db, "PRAGMA synchronous=OFF", NULL, NULL, NULL);
	for (int i = 0; i < ntok; i++) {
		struct ledger_token t;
		fill(&t, tok);
		if (i % 10 == 0)
			t.format = LEDGER_FMT_OPAQUE;
		memcpy(hits[i], t.sha, 32);
		/* batch through the public API; each add is its own transaction */
		if (ledger_add(l, &t, NULL, 0))
			exit(1);
	}
	struct ledger_cache *c;
	double t0 = now_s();
	if (ledger_cache_open(path, &c, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	printf("cache_open_%d %.2f ms\n", ntok, (now_s() - t0) * 1e3);

	/* lookups: cache vs indexed SQLite query, alternating rounds */
	int nl = 1000000;
	sqlite3_stmt *st;
	sqlite3_prepare_v2(db, "SELECT id FROM tokens WHERE sha256 = ?", -1, &st, NULL);
	double ch[16], sq[16], cb[16], miss[16];
	volatile size_t found = 0;
	for (int r = 0; r < rounds; r++) {
		t0 = now_s();
		for (int i = 0; i < nl; i++)
			found += ledger_cache_lookup(c, hits[((size_t)i * 7919u) % (size_t)ntok]) != NULL;
		ch[r] = (now_s() - t0) / nl * 1e9;
		t0 = now_s();
		unsigned char m[32];
		memset(m, 0x5a, 32);
		for (int i = 0; i < nl; i++) {
			m[0] = i;
			m[1] = i >> 8;
			found += ledger_cache_lookup(c, m) != NULL;
		}
		miss[r] = (now_s() - t0) / nl * 1e9;
		t0 = now_s();
		for (int i = 0; i < nl / 10; i++)
			found += ledger_cache_lookup_bytes(c, tok, TOKEN_LEN) != NULL;
		cb[r] = (now_s() - t0) / (nl / 10) * 1e9;
		t0 = now_s();
		for (int i = 0; i < nl / 20; i++) {
			char hex[65];
			sha256_to_hex(hits[((size_t)i * 7919u) % (size_t)ntok], hex);
			sqlite3_bind_text(st, 1, hex, 64, SQLITE_TRANSIENT);
			found += sqlite3_step(st) == SQLITE_ROW;
			sqlite3_reset(st);
		}
		sq[r] = (now_s() - t0) / (nl / 20) * 1e9;
	}
	sqlite3_finalize(st);
	printf("lookup_cache_hit %.1f ns\n", median(ch, rounds));
	printf("lookup_cache_miss %.1f ns\n", median(miss, rounds));
	printf("lookup_cache_sha256_and_hit %.1f ns\n", median(cb, rounds));
	printf("lookup_sqlite_indexed %.1f ns\n", median(sq, rounds));

	/* refresh: polling with nothing new, and a reload after one add */
	double poll[16], reload[16], vis[16];
	for (int r = 0; r < rounds; r++) {
		t0 = now_s();
		for (int i = 0; i < 10000; i++)
			ledger_cache_refresh(c);
		poll[r] = (now_s() - t0) / 10000 * 1e6;
		struct ledger_token t;
		fill(&t, tok);
		ledger_add(l, &t, NULL, 0);
		double tc = now_s();
		t0 = now_s();
		if (ledger_cache_refresh(c) != 1 || !ledger_cache_lookup(c, t.sha))
			return 1;
		reload[r] = (now_s() - t0) * 1e3;
		vis[r] = (now_s() - tc) * 1e3;
	}
	printf("refresh_poll_unchanged %.2f us\n", median(poll, rounds));
	printf("refresh_reload_%d %.2f ms\n", ntok, median(reload, rounds));
	printf("commit_to_visible_%d %.2f ms (plus the poll interval)\n", ntok, median(vis, rounds));
	ledger_cache_close(c);
	ledger_close(l);
	free(hits);
	return found == 0;
}
