/* The `metrics:` and `outputs:` config sections (see outputs_config.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/config.h"
#include "output/metrics.h"
#include "output/outputs_config.h"

static const char *const type_names[] = {
	[OUTPUT_FILE] = "file", [OUTPUT_STDOUT] = "stdout",
	[OUTPUT_SYSLOG] = "syslog", [OUTPUT_WEBHOOK] = "webhook",
};

/* RFC 5424 facility codes, in order. */
static const char *const facilities[24] = {
	"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
	"authpriv", "ftp", "ntp", "audit", "alert", "clock", "local0", "local1", "local2",
	"local3", "local4", "local5", "local6", "local7",
};

const char *output_type_name(enum output_type t)
{
	return (unsigned)t <= OUTPUT_WEBHOOK ? type_names[t] : "?";
}

struct ctx {
	yaml_document_t *doc;
	const char *name;
	char *err;
	size_t errsz;
};

static int fail(struct ctx *c, yaml_node_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(struct ctx *c, yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;
	int k = snprintf(c->err, c->errsz, "%s:%zu: ", c->name, n ? n->start_mark.line + 1 : 1);

	if (k < 0 || (size_t)k >= c->errsz)
		return -1;
	va_start(ap, fmt);
	vsnprintf(c->err + k, c->errsz - k, fmt, ap);
	va_end(ap);
	return -1;
}

/* A non-empty scalar without NUL, or NULL after fail(). */
static const char *want_scalar(struct ctx *c, yaml_node_t *v, const char *key)
{
	const char *s = v && v->type == YAML_SCALAR_NODE ? (const char *)v->data.scalar.value : NULL;

	if (!s) {
		fail(c, v, "'%s' must be a single value", key);
		return NULL;
	}
	if (strlen(s) != v->data.scalar.length || !*s) {
		fail(c, v, "'%s' must be a non-empty value without NUL bytes", key);
		return NULL;
	}
	return s;
}

static int want_string(struct ctx *c, yaml_node_t *v, const char *key, char **dst)
{
	const char *s = want_scalar(c, v, key);

	if (!s)
		return -1;
	free(*dst);
	if (!(*dst = strdup(s)))
		return fail(c, v, "out of memory");
	return 0;
}

static int want_uint(struct ctx *c, yaml_node_t *v, const char *key, unsigned lo, unsigned hi,
		     unsigned *dst)
{
	const char *s = want_scalar(c, v, key);
	char *end;
	unsigned long n;

	if (!s)
		return -1;
	n = strtoul(s, &end, 10);
	if (*s < '0' || *s > '9' || *end || n < lo || n > hi)
		return fail(c, v, "'%s' must be a number from %u to %u, not '%s'", key, lo, hi, s);
	*dst = n;
	return 0;
}

static int want_duration(struct ctx *c, yaml_node_t *v, const char *key, unsigned *dst)
{
	const char *s = want_scalar(c, v, key);

	if (!s)
		return -1;
	if (config_parse_duration_ms(s, dst))
		return fail(c, v, "'%s': '%s' is not a duration (e.g. 500ms, 5s, 2m)", key, s);
	return 0;
}

static int metrics_section(struct ctx *c, struct outputs_cfg *oc, yaml_node_t *map)
{
	char host[64], msg[256];
	unsigned port;

	if (!map || map->type != YAML_MAPPING_NODE)
		return fail(c, map, "'metrics' must be a mapping, e.g. {listen: 127.0.0.1:9464}");
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key), *v = yaml_document_get_node(c->doc, p->value);
		const char *key = k && k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : "";

		if (strcmp(key, "listen"))
			return fail(c, k, "metrics: unknown key '%s' (listen)", key);
		if (want_string(c, v, key, &oc->metrics_listen))
			return -1;
		if (metrics_parse_listen(oc->metrics_listen, host, sizeof(host), &port, msg, sizeof(msg)))
			return fail(c, v, "%s", msg);
	}
	return 0;
}

static int output_key(struct ctx *c, struct output_cfg *o, yaml_node_t *k, yaml_node_t *v)
{
	const char *key = k && k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : "";
	const char *s;

	if (!strcmp(key, "type")) {
		if (!(s = want_scalar(c, v, key)))
			return -1;
		for (int t = OUTPUT_FILE; t <= OUTPUT_WEBHOOK; t++)
			if (!strcmp(s, type_names[t])) {
				o->type = t;
				return 0;
			}
		return fail(c, v, "outputs: unknown type '%s' (file, stdout, syslog, webhook)", s);
	}
	if (!strcmp(key, "path"))
		return want_string(c, v, key, &o->path);
	if (!strcmp(key, "address"))
		return want_string(c, v, key, &o->address);
	if (!strcmp(key, "url"))
		return want_string(c, v, key, &o->url);
	if (!strcmp(key, "facility")) {
		if (!(s = want_scalar(c, v, key)))
			return -1;
		for (int f = 0; f < 24; f++)
			if (!strcmp(s, facilities[f])) {
				o->facility = f;
				return 0;
			}
		return fail(c, v, "outputs: unknown syslog facility '%s' (kern, user, daemon, auth, local0..local7, ...)", s);
	}
	if (!strcmp(key, "batch"))
		return want_uint(c, v, key, 1, 1000, &o->batch);
	if (!strcmp(key, "queue"))
		return want_uint(c, v, key, 1, 100000, &o->queue);
	if (!strcmp(key, "timeout"))
		return want_duration(c, v, key, &o->timeout_ms);
	if (!strcmp(key, "backoff_base"))
		return want_duration(c, v, key, &o->backoff_base_ms);
	if (!strcmp(key, "backoff_max"))
		return want_duration(c, v, key, &o->backoff_max_ms);
	return fail(c, k, "outputs: unknown key '%s'", key);
}

/* Keys that only some types use: one given to another type would be
 * read and then ignored, so it is refused by name. */
static const struct {
	const char *key;
	unsigned types;           /* 1 << enum output_type */
} typed_keys[] = {
	{ "facility", 1u << OUTPUT_SYSLOG },
	{ "queue", 1u << OUTPUT_SYSLOG | 1u << OUTPUT_WEBHOOK },
	{ "batch", 1u << OUTPUT_WEBHOOK },
	{ "timeout", 1u << OUTPUT_WEBHOOK },
	{ "backoff_base", 1u << OUTPUT_WEBHOOK },
	{ "backoff_max", 1u << OUTPUT_WEBHOOK },
};

static unsigned typed_key_bit(const char *key)
{
	for (size_t i = 0; i < sizeof(typed_keys) / sizeof(typed_keys[0]); i++)
		if (!strcmp(key, typed_keys[i].key))
			return 1u << i;
	return 0;
}

/* What each type needs, and nothing another type uses. */
static int output_check(struct ctx *c, yaml_node_t *at, struct output_cfg *o, int type_seen, unsigned given)
{
	const char *t = type_names[o->type];

	if (!type_seen)
		return fail(c, at, "outputs: 'type' is required (file, stdout, syslog, webhook)");
	for (size_t i = 0; i < sizeof(typed_keys) / sizeof(typed_keys[0]); i++)
		if ((given & 1u << i) && !(typed_keys[i].types & 1u << o->type))
			return fail(c, at, "outputs: '%s' is not a key of type %s", typed_keys[i].key, t);
	if ((o->path != NULL) != (o->type == OUTPUT_FILE))
		return fail(c, at, "outputs: %s", o->path ? "'path' is for type file only" : "type file needs 'path'");
	if (o->address && o->type != OUTPUT_SYSLOG)
		return fail(c, at, "outputs: 'address' is for type syslog only, not %s", t);
	if ((o->url != NULL) != (o->type == OUTPUT_WEBHOOK))
		return fail(c, at, "outputs: %s", o->url ? "'url' is for type webhook only" : "type webhook needs 'url'");
	if (o->url && strncmp(o->url, "http://", 7) && strncmp(o->url, "https://", 8))
		return fail(c, at, "outputs: webhook url must be http:// or https://");
	if (o->type == OUTPUT_SYSLOG && !o->address && !(o->address = strdup("/dev/log")))
		return fail(c, at, "out of memory");
	if (o->backoff_max_ms < o->backoff_base_ms)
		return fail(c, at, "outputs: backoff_max is smaller than backoff_base");
	return 0;
}

static int output_entry(struct ctx *c, struct output_cfg *o, yaml_node_t *map)
{
	int type_seen = 0;
	unsigned given = 0;

	if (!map || map->type != YAML_MAPPING_NODE)
		return fail(c, map, "each output must be a mapping, e.g. {type: syslog, address: /dev/log}");
	o->line = map->start_mark.line + 1;
	o->facility = 3;          /* daemon */
	o->batch = 50;
	o->queue = 1000;
	o->timeout_ms = 5000;
	o->backoff_base_ms = 250;
	o->backoff_max_ms = 30000;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);

		type_seen |= k && k->type == YAML_SCALAR_NODE && !strcmp((char *)k->data.scalar.value, "type");
		given |= k && k->type == YAML_SCALAR_NODE ? typed_key_bit((char *)k->data.scalar.value) : 0;
		if (output_key(c, o, k, yaml_document_get_node(c->doc, p->value)))
			return -1;
	}
	return output_check(c, map, o, type_seen, given);
}

static int outputs_section(struct ctx *c, struct outputs_cfg *oc, yaml_node_t *seq)
{
	if (!seq || seq->type != YAML_SEQUENCE_NODE)
		return fail(c, seq, "'outputs' must be a list, e.g. [{type: syslog}]");
	if (oc->n)
		return fail(c, seq, "'outputs' given twice");
	for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
		if (oc->n == OUTPUTS_MAX)
			return fail(c, seq, "at most %d outputs", OUTPUTS_MAX);
		if (output_entry(c, &oc->v[oc->n++], yaml_document_get_node(c->doc, *it)))
			return -1;
	}
	return 0;
}

int outputs_config_key(struct outputs_cfg **ocp, yaml_document_t *doc, const char *key,
		       yaml_node_t *v, const char *name, char *err, size_t errsz)
{
	struct ctx c = { .doc = doc, .name = name, .err = err, .errsz = errsz };

	if (strcmp(key, "metrics") && strcmp(key, "outputs"))
		return 1;
	if (!*ocp && !(*ocp = calloc(1, sizeof(**ocp))))
		return fail(&c, v, "out of memory");
	return !strcmp(key, "metrics") ? metrics_section(&c, *ocp, v) : outputs_section(&c, *ocp, v);
}

void outputs_config_free(struct outputs_cfg *oc)
{
	if (!oc)
		return;
	free(oc->metrics_listen);
	for (size_t i = 0; i < oc->n; i++) {
		free(oc->v[i].path);
		free(oc->v[i].address);
		free(oc->v[i].url);
	}
	free(oc);
}
