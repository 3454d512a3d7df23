/*
 * Markdown and HTML from the report model. Every string from the model is
 * written through put() (HTML: entities for < > & " '; Markdown: a
 * backslash before its markup characters; control characters as '?'):
 * paths, comm and exe are chosen by whoever ran the process. The HTML is
 * one file: inline CSS (with print rules) and inline SVG charts, no
 * script, no external resource.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "ledger/report.h"
#include "lib/timeparse.h"

struct out {
	FILE *f;
	int html;
	int64_t since, until; /* the window, for the charts */
};

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItem(o, k);

	return cJSON_IsString(v) ? v->valuestring : "";
}

static double num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItem(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void put(struct out *o, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = *s;

		if (o->html && strchr("<>&\"'", c))
			fprintf(o->f, "&#%d;", c);
		else if (!o->html && strchr("\\`*_[]<>|#", c))
			fprintf(o->f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fputc('?', o->f);
		else
			fputc(c, o->f);
	}
}

/* Literal markup (never data). */
static void raw(struct out *o, const char *html, const char *md)
{
	fputs(o->html ? html : md, o->f);
}

static void put_ms(struct out *o, const cJSON *v)
{
	if (cJSON_IsNumber(v))
		fprintf(o->f, "%.1f ms", v->valuedouble);
	else
		fputs("—", o->f);
}

static int64_t when(const char *s)
{
	int64_t t = 0;

	return timeparse_point(s, 0, &t) ? 0 : t;
}

/* ---- tables ---------------------------------------------------------------- */

static void table_head(struct out *o, const char *const *cols)
{
	raw(o, "<table><tr>", "\n|");
	for (int i = 0; cols[i]; i++) {
		raw(o, "<th>", " ");
		put(o, cols[i]);
		raw(o, "</th>", " |");
	}
	raw(o, "</tr>\n", "\n|");
	for (int i = 0; !o->html && cols[i]; i++)
		fputs(" --- |", o->f);
	raw(o, "", "\n");
}

static void cell(struct out *o, const char *s)
{
	raw(o, "<td>", "| ");
	put(o, s);
	raw(o, "</td>", " ");
}

static void cell_num(struct out *o, double v)
{
	raw(o, "<td class=\"n\">", "| ");
	fprintf(o->f, "%.0f", v);
	raw(o, "</td>", " ");
}

static void row_end(struct out *o)
{
	raw(o, "</tr>\n", "|\n");
}

static void row_start(struct out *o, int hl)
{
	raw(o, hl ? "<tr class=\"hl\">" : "<tr>", "");
}

static void table_end(struct out *o)
{
	raw(o, "</table>\n", "\n");
}

static void heading(struct out *o, int level, const char *text)
{
	if (o->html)
		fprintf(o->f, "<h%d>", level);
	else
		fprintf(o->f, "\n%.*s ", level, "######");
	put(o, text);
	if (o->html)
		fprintf(o->f, "</h%d>\n", level);
	else
		fputs("\n\n", o->f);
}

static void para_start(struct out *o, const char *cls)
{
	if (o->html)
		fprintf(o->f, "<p%s%s%s>", cls ? " class=\"" : "", cls ? cls : "", cls ? "\"" : "");
}

static void para_end(struct out *o)
{
	raw(o, "</p>\n", "\n\n");
}

static void left_out(struct out *o, double n)
{
	if (n <= 0)
		return;
	para_start(o, "more");
	fprintf(o->f, "%.0f rows left out.", n);
	para_end(o);
}

/* A count table: {name: count}. */
static void count_table(struct out *o, const char *what, const cJSON *m)
{
	static const char *cols[3] = { NULL, "count", NULL };
	const cJSON *c;

	cols[0] = what;
	if (!cJSON_GetArraySize(m))
		return;
	table_head(o, cols);
	cJSON_ArrayForEach(c, m) {
		row_start(o, 0);
		cell(o, c->string);
		cell_num(o, c->valuedouble);
		row_end(o);
	}
	table_end(o);
}

static void top_table(struct out *o, const char *title, const char *keyname, const cJSON *t,
		      const char *extra)
{
	const char *cols[] = { keyname, extra ? extra : "first", extra ? "first" : "last",
			       extra ? "last" : "count", extra ? "count" : NULL, NULL };
	const cJSON *r;

	if (!t || !cJSON_GetArraySize(cJSON_GetObjectItem(t, "rows")))
		return;
	heading(o, 3, title);
	table_head(o, cols);
	cJSON_ArrayForEach(r, cJSON_GetObjectItem(t, "rows")) {
		row_start(o, 0);
		cell(o, str(r, "key"));
		if (extra)
			cell(o, str(r, extra));
		cell(o, str(r, "first"));
		cell(o, str(r, "last"));
		cell_num(o, num(r, "count"));
		row_end(o);
	}
	table_end(o);
	left_out(o, num(t, "left_out"));
}

/* ---- SVG ---------------------------------------------------------------------- */

#define SVG_W 900.0
#define SVG_H 140.0

static double xpos(const struct out *o, int64_t t)
{
	double span = (double)(o->until - o->since);

	if (span <= 0)
		return 0;
	if (t < o->since)
		t = o->since;
	if (t > o->until)
		t = o->until;
	return 40 + (SVG_W - 50) * (double)(t - o->since) / span;
}

static void svg_axis(struct out *o, const char *from, const char *to, double h)
{
	fprintf(o->f, "<line x1=\"40\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" class=\"axis\"/>", h - 20,
		SVG_W - 10, h - 20);
	fprintf(o->f, "<text x=\"40\" y=\"%.0f\" class=\"lbl\">", h - 4);
	put(o, from);
	fprintf(o->f, "</text><text x=\"%.0f\" y=\"%.0f\" class=\"lbl\" text-anchor=\"end\">", SVG_W - 10, h - 4);
	put(o, to);
	fputs("</text>", o->f);
}

static void svg_coverage(struct out *o, const cJSON *r, double h)
{
	const cJSON *p;

	cJSON_ArrayForEach(p, cJSON_GetObjectItem(cJSON_GetObjectItem(r, "coverage"), "periods")) {
		double x1 = xpos(o, when(str(p, "from"))), x2 = xpos(o, when(str(p, "to")));
		fprintf(o->f, "<rect x=\"%.1f\" y=\"0\" width=\"%.1f\" height=\"%.0f\" class=\"lost\">"
			      "<title>events lost or cut</title></rect>", x1, x2 - x1 < 2 ? 2 : x2 - x1, h - 20);
	}
}

/* The summary chart: stacked columns per bucket. */
static void svg_summary(struct out *o, const cJSON *r)
{
	const cJSON *b = cJSON_GetObjectItem(cJSON_GetObjectItem(r, "chart"), "buckets"), *e;
	static const char *const keys[] = { "uses", "exposures", "unmanaged", "revocations" };
	int n = cJSON_GetArraySize(b), i = 0;
	double max = 1, bw = n ? (SVG_W - 50) / n : 0;

	cJSON_ArrayForEach(e, b) {
		double s = 0;
		for (int k = 0; k < 4; k++)
			s += num(e, keys[k]);
		max = s > max ? s : max;
	}
	fprintf(o->f, "<svg class=\"chart\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"sightings, "
		      "exposures and revocations over the window\">", SVG_W, SVG_H);
	svg_coverage(o, r, SVG_H);
	cJSON_ArrayForEach(e, b) {
		double y = SVG_H - 20;
		for (int k = 0; k < 4; k++) {
			double v = num(e, keys[k]), hh = v / max * (SVG_H - 30);
			if (v <= 0)
				continue;
			y -= hh;
			fprintf(o->f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"%s\">"
				      "<title>%.0f %s</title></rect>", 40 + i * bw, y, bw * 0.8, hh, keys[k], v, keys[k]);
		}
		i++;
	}
	svg_axis(o, str(cJSON_GetObjectItem(r, "window"), "since"), str(cJSON_GetObjectItem(r, "window"), "until"), SVG_H);
	fprintf(o->f, "<text x=\"36\" y=\"12\" class=\"lbl\" text-anchor=\"end\">%.0f</text></svg>\n", max);
	fputs("<p class=\"legend\"><span class=\"k uses\"></span> use <span class=\"k exposures\"></span> exposure "
	      "<span class=\"k unmanaged\"></span> unmanaged <span class=\"k revocations\"></span> revoked at the issuer "
	      "<span class=\"k lost\"></span> events lost or cut</p>\n", o->f);
}

/* One token's timeline: a mark per entry, over the token's own span
 * (its first to its last entry) so that milliseconds apart stay apart. */
static void svg_token(struct out *o, const cJSON *r, const cJSON *t)
{
	const cJSON *tl = cJSON_GetObjectItem(t, "timeline"), *e;
	const cJSON *first = cJSON_GetArrayItem(tl, 0), *last = cJSON_GetArrayItem(tl, cJSON_GetArraySize(tl) - 1);
	int64_t ws = o->since, wu = o->until, a, b, pad;

	if (!first)
		return;
	a = when(str(first, "time"));
	b = when(str(last, "time"));
	pad = (b - a) / 20 + 1000000;
	o->since = a - pad;
	o->until = b + pad;
	fprintf(o->f, "<svg class=\"chart tok\" viewBox=\"0 0 %.0f 60\" role=\"img\" aria-label=\"timeline\">", SVG_W);
	svg_coverage(o, r, 60);
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(t, "timeline")) {
		const char *ev = str(e, "event");
		const cJSON *d = cJSON_GetObjectItem(e, "detail");
		double x = xpos(o, when(str(e, "time")));
		const char *cls = !strcmp(ev, "sighting")
					  ? (cJSON_IsTrue(cJSON_GetObjectItem(d, "exposure")) ? "exposures" : "uses")
					  : (!strcmp(ev, "revoked") && *str(d, "result") ? "revocations" : "other");

		if (cJSON_IsTrue(cJSON_GetObjectItem(e, "highlight")))
			cls = "hluse";
		fprintf(o->f, "<circle cx=\"%.1f\" cy=\"20\" r=\"5\" class=\"%s\"><title>", x, cls);
		put(o, str(e, "time"));
		fputs(" ", o->f);
		put(o, str(e, "text"));
		fputs("</title></circle>", o->f);
	}
	svg_axis(o, str(first, "time"), str(last, "time"), 60);
	fputs("</svg>\n", o->f);
	o->since = ws;
	o->until = wu;
}

/* ---- sections -------------------------------------------------------------------- */

static const char css[] =
	"body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}"
	"table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:3px 8px;"
	"text-align:left;vertical-align:top}td.n{text-align:right}th{background:#f3f3f3}"
	".warn{background:#fff3cd;border:2px solid #d39e00;padding:.7em 1em;font-weight:bold}"
	".ok{color:#256029}.empty{font-style:italic}.more{color:#666;font-size:90%}"
	"tr.hl td{background:#fde2e2;font-weight:bold}h2.exposed{color:#a00}"
	".chart{width:100%;height:auto;border:1px solid #ddd;margin:.5em 0}"
	".uses{fill:#3b78c3;background:#3b78c3}.exposures{fill:#c62828;background:#c62828}"
	".unmanaged{fill:#ef8f00;background:#ef8f00}.revocations{fill:#2e7d32;background:#2e7d32}"
	".other{fill:#888}.hluse{fill:#000;stroke:#c62828;stroke-width:3}"
	".lost{fill:#999;fill-opacity:.35;background:#ccc}.axis{stroke:#333}.lbl{font-size:11px;fill:#333}"
	".k{display:inline-block;width:.9em;height:.9em;margin:0 .2em 0 .8em;vertical-align:middle}"
	"dl{display:grid;grid-template-columns:max-content auto;gap:2px 1em}dt{font-weight:bold}dd{margin:0}"
	"@media print{body{margin:0;max-width:none;font-size:10pt}.token{break-inside:avoid-page}"
	"h2{break-after:avoid}.warn{border-color:#000}a{color:inherit}}";

static void sec_header(struct out *o, const cJSON *r)
{
	const cJSON *w = cJSON_GetObjectItem(r, "window"), *flt = cJSON_GetObjectItem(r, "filter");

	if (o->html) {
		fprintf(o->f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
			      "<meta name=\"viewport\" content=\"width=device-width\">"
			      "<title>tokenward exposure report</title>\n<style>%s</style></head><body>\n", css);
		fputs("<h1>tokenward exposure report</h1>\n", o->f);
	} else {
		fputs("# tokenward exposure report\n\n", o->f);
	}
	para_start(o, NULL);
	fputs("Window ", o->f);
	put(o, str(w, "since"));
	fputs(" to ", o->f);
	put(o, str(w, "until"));
	if (*str(flt, "token") || *str(flt, "task")) {
		fputs(", only ", o->f);
		put(o, *str(flt, "token") ? "token " : "task ");
		put(o, *str(flt, "token") ? str(flt, "token") : str(flt, "task"));
	}
	fputs(". Generated ", o->f);
	put(o, str(r, "generated_at"));
	fputs(" from ledger ", o->f);
	put(o, str(r, "ledger"));
	fputs(".", o->f);
	para_end(o);
}

static void sec_coverage(struct out *o, const cJSON *r)
{
	const cJSON *c = cJSON_GetObjectItem(r, "coverage"), *p;
	const char *st = str(c, "statement");

	if (*st) {
		para_start(o, "warn");
		raw(o, "", "> **Coverage:** ");
		if (o->html)
			fputs("Coverage: ", o->f);
		put(o, st);
		fputc('.', o->f);
		para_end(o);
	} else if (cJSON_IsTrue(cJSON_GetObjectItem(c, "known"))) {
		para_start(o, "ok");
		fputs("Coverage: the monitor lost and cut nothing in this window.", o->f);
		para_end(o);
	} else {
		para_start(o, "warn");
		fputs("Coverage unknown: no counter samples in this window (was the monitor running?).", o->f);
		para_end(o);
	}
	if (num(c, "lost_total") + num(c, "cut_total") > 0) {
		static const char *cols[] = { "from", "to", "lost", "cut", "causes", NULL };
		table_head(o, cols);
		cJSON_ArrayForEach(p, cJSON_GetObjectItem(c, "periods")) {
			char causes[512] = "";
			const cJSON *k;
			size_t len = 0;
			cJSON_ArrayForEach(k, cJSON_GetObjectItem(p, "causes"))
				len += snprintf(causes + len, len < sizeof(causes) ? sizeof(causes) - len : 0,
						"%s%s %.0f", len ? ", " : "", k->string, k->valuedouble);
			row_start(o, 0);
			cell(o, str(p, "from"));
			cell(o, str(p, "to"));
			cell_num(o, num(p, "lost"));
			cell_num(o, num(p, "cut"));
			cell(o, causes);
			row_end(o);
		}
		table_end(o);
		left_out(o, num(c, "periods_left_out"));
	}
}

static void sec_summary(struct out *o, const cJSON *r)
{
	const cJSON *s = cJSON_GetObjectItem(r, "summary"), *ttr = cJSON_GetObjectItem(s, "time_to_revoke"),
		    *top = cJSON_GetObjectItem(s, "top"), *e;
	const cJSON *w = cJSON_GetObjectItem(r, "window");

	heading(o, 2, "Summary");
	if (cJSON_IsTrue(cJSON_GetObjectItem(r, "empty"))) {
		para_start(o, "empty");
		fputs("Nothing was seen between ", o->f);
		put(o, str(w, "since"));
		fputs(" and ", o->f);
		put(o, str(w, "until"));
		fputs(".", o->f);
		para_end(o);
	}
	para_start(o, NULL);
	fprintf(o->f, "Tokens seen: %.0f; exposed: %.0f; revoked at the issuer: %.0f. Verdicts in the window: ",
		num(s, "tokens_seen"), num(s, "tokens_exposed"), num(s, "revoked_at_issuer"));
	if (cJSON_IsNumber(cJSON_GetObjectItem(s, "verdicts")))
		fprintf(o->f, "%.0f.", num(s, "verdicts"));
	else
		fputs("unknown (no event store).", o->f);
	para_end(o);
	para_start(o, NULL);
	fprintf(o->f, "Time from first exposure to the issuer's confirmation (%.0f tokens): median ", num(ttr, "count"));
	put_ms(o, cJSON_GetObjectItem(ttr, "median_ms"));
	fputs(", p95 ", o->f);
	put_ms(o, cJSON_GetObjectItem(ttr, "p95_ms"));
	fputs(", max ", o->f);
	put_ms(o, cJSON_GetObjectItem(ttr, "max_ms"));
	fputs(".", o->f);
	para_end(o);
	if (o->html)
		svg_summary(o, r);
	count_table(o, "class", cJSON_GetObjectItem(s, "by_class"));
	count_table(o, "action", cJSON_GetObjectItem(s, "by_action"));
	if (!cJSON_GetArraySize(cJSON_GetObjectItem(s, "by_class")))
		count_table(o, "class", cJSON_GetObjectItem(s, "sightings_by_class"));
	top_table(o, "Processes that leaked most", "process", cJSON_GetObjectItem(top, "processes"), "comm");
	top_table(o, "Files", "file", cJSON_GetObjectItem(top, "files"), NULL);
	top_table(o, "Destinations", "destination", cJSON_GetObjectItem(top, "destinations"), "name");
	top_table(o, "Containers", "container", cJSON_GetObjectItem(top, "containers"), NULL);
	top_table(o, "Unmanaged secrets by rule", "rule", cJSON_GetObjectItem(s, "unmanaged_by_rule"), NULL);
	if (cJSON_GetArraySize(cJSON_GetObjectItem(s, "still_active"))) {
		static const char *cols[] = { "token", "task", "why", "since", "revocation at the issuer", NULL };
		heading(o, 3, "Still active at the issuer after their task or expiry");
		table_head(o, cols);
		cJSON_ArrayForEach(e, cJSON_GetObjectItem(s, "still_active")) {
			row_start(o, 1);
			cell(o, str(e, "id"));
			cell(o, str(e, "task"));
			cell(o, str(e, "why"));
			cell(o, str(e, "since"));
			cell(o, str(e, "revocation"));
			row_end(o);
		}
		table_end(o);
	}
}

static void field(struct out *o, const char *name, const char *value)
{
	raw(o, "<dt>", "- ");
	put(o, name);
	raw(o, "</dt><dd>", ": ");
	put(o, *value ? value : "—");
	raw(o, "</dd>\n", "\n");
}

static void token_facts(struct out *o, const cJSON *t)
{
	const cJSON *rev = cJSON_GetObjectItem(t, "revocation"), *br = cJSON_GetObjectItem(t, "blast_radius"), *a;
	char buf[1024];
	size_t len = 0;

	raw(o, "<dl>\n", "");
	field(o, "status in the ledger", str(t, "status"));
	field(o, "issuer", str(t, "issuer"));
	field(o, "subject", str(t, "subject"));
	snprintf(buf, sizeof(buf), "%s %s", str(cJSON_GetObjectItem(t, "delegate"), "kind"),
		 str(cJSON_GetObjectItem(t, "delegate"), "value"));
	field(o, "delegate", buf);
	cJSON_ArrayForEach(a, cJSON_GetObjectItem(t, "audience"))
		len += snprintf(buf + len, len < sizeof(buf) ? sizeof(buf) - len : 0, "%s%s", len ? ", " : "",
				cJSON_IsString(a) ? a->valuestring : "");
	field(o, "audience", len ? buf : "");
	field(o, "scope", str(t, "scope"));
	field(o, "task", str(t, "task"));
	field(o, "issued", str(t, "issued_at"));
	field(o, "expires", str(t, "expires_at"));
	field(o, "token", str(t, "redacted"));
	field(o, "sha256", str(t, "sha256"));
	snprintf(buf, sizeof(buf), "%.0f sightings, %.0f exposures", num(t, "sightings"), num(t, "exposures"));
	field(o, "seen", buf);
	if (*str(rev, "confirmed_at") && cJSON_IsNumber(cJSON_GetObjectItem(rev, "http_status")))
		snprintf(buf, sizeof(buf), "%s: confirmed at %s by issuer %s (%s, HTTP %.0f): %s", str(rev, "state"),
			 str(rev, "confirmed_at"), str(rev, "issuer"), str(rev, "how"), num(rev, "http_status"),
			 str(rev, "issuer_answer"));
	else if (*str(rev, "confirmed_at"))
		snprintf(buf, sizeof(buf), "%s: confirmed at %s by issuer %s (%s): %s", str(rev, "state"),
			 str(rev, "confirmed_at"), str(rev, "issuer"), str(rev, "how"), str(rev, "issuer_answer"));
	else
		snprintf(buf, sizeof(buf), "%s (not confirmed by the issuer%s%s)", str(rev, "state"),
			 *str(rev, "error") ? ": " : "", str(rev, "error"));
	field(o, "revocation at the issuer", buf);
	if (cJSON_IsNumber(cJSON_GetObjectItem(t, "exposed_for_ms"))) {
		snprintf(buf, sizeof(buf), "%.1f ms from the first exposure (%s) to the issuer's confirmation",
			 num(t, "exposed_for_ms"), str(t, "first_exposure_at"));
		field(o, "time to revoke", buf);
	}
	snprintf(buf, sizeof(buf), "audience above, scope %s; exposed from %s until %s; %.0f sightings after the "
				   "exposure, %.0f of them uses",
		 *str(br, "scope") ? str(br, "scope") : "(none recorded)",
		 *str(br, "exposed_from") ? str(br, "exposed_from") : "never",
		 *str(br, "exposed_until") ? str(br, "exposed_until") : (*str(br, "exposed_from") ? "not confirmed" : "—"),
		 num(br, "sightings_after_exposure"), num(br, "uses_after_exposure"));
	field(o, "blast radius", buf);
	raw(o, "</dl>\n", "");
}

static void sec_token(struct out *o, const cJSON *r, const cJSON *t)
{
	static const char *cols[] = { "time", "event", "what happened", NULL };
	const cJSON *e, *br = cJSON_GetObjectItem(t, "blast_radius");
	int exposed = num(t, "exposures") > 0;

	raw(o, "<section class=\"token\">", "");
	if (o->html)
		fputs(exposed ? "<h2 class=\"exposed\">" : "<h2>", o->f);
	else
		fputs("\n## ", o->f);
	put(o, str(t, "id"));
	fputs(" — task ", o->f);
	put(o, str(t, "task"));
	raw(o, "</h2>\n", "\n\n");
	if (num(br, "uses_after_exposure") > 0) {
		para_start(o, "warn");
		raw(o, "", "> **");
		fprintf(o->f, "Used %.0f times after it was exposed: this may be the attacker.", num(br, "uses_after_exposure"));
		raw(o, "", "**");
		para_end(o);
	}
	token_facts(o, t);
	if (o->html)
		svg_token(o, r, t);
	table_head(o, cols);
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(t, "timeline")) {
		int hl = cJSON_IsTrue(cJSON_GetObjectItem(e, "highlight"));
		row_start(o, hl);
		cell(o, str(e, "time"));
		cell(o, str(e, "event"));
		if (hl && !o->html) {
			fputs("| **USE AFTER EXPOSURE** ", o->f);
			put(o, str(e, "text"));
			fputc(' ', o->f);
		} else {
			cell(o, str(e, "text"));
		}
		row_end(o);
	}
	table_end(o);
	left_out(o, num(t, "timeline_left_out"));
	raw(o, "</section>\n", "");
}

static void render_text(const cJSON *r, struct out *o)
{
	const cJSON *t;

	o->since = when(str(cJSON_GetObjectItem(r, "window"), "since"));
	o->until = when(str(cJSON_GetObjectItem(r, "window"), "until"));
	sec_header(o, r);
	sec_coverage(o, r);
	sec_summary(o, r);
	heading(o, 2, "Tokens");
	if (!cJSON_GetArraySize(cJSON_GetObjectItem(r, "tokens"))) {
		para_start(o, "empty");
		fputs("No managed token was seen in this window.", o->f);
		para_end(o);
	}
	cJSON_ArrayForEach(t, cJSON_GetObjectItem(r, "tokens"))
		sec_token(o, r, t);
	if (num(r, "tokens_left_out") > 0) {
		para_start(o, "more");
		fprintf(o->f, "%.0f tokens left out.", num(r, "tokens_left_out"));
		para_end(o);
	}
	if (o->html)
		fputs("</body></html>\n", o->f);
}

int report_render(const cJSON *report, enum report_format fmt, FILE *f)
{
	struct out o = { .f = f, .html = fmt == REPORT_HTML };

	if (fmt == REPORT_JSON) {
		char *s = cJSON_Print(report);

		if (!s)
			return -ENOMEM;
		fputs(s, f);
		fputc('\n', f);
		free(s);
	} else {
		render_text(report, &o);
	}
	return ferror(f) ? -EIO : 0;
}
