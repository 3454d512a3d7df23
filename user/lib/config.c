/*
 * The config file is loaded as a libyaml document (not an event stream)
 * because every node keeps its start mark: any error can then name the
 * line of the offending key or value. lib/yamldoc.c bounds the file
 * (size, depth, one document, each key once) before any of it is read. Keys are checked against a fixed
 * list so that a typo ("revocaton_endpoint") fails loudly instead of
 * silently falling back to a default.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>
#include "lib/config.h"
#include "lib/safefile.h"
#include "ledger/ledger.h"
#include "lib/util.h"
#include "lib/timeparse.h"
#include "lib/yamldoc.h"

#define SECRET_MAX 4096

static const char *const class_names[VC__COUNT] = {
	[VC_FILE_WRITE] = "file_write",
	[VC_EXEC_ENV] = "exec_env",
	[VC_EXEC_ARGV] = "exec_argv",
	[VC_NET_DEST] = "net_dest",
	[VC_FOREIGN_PROCESS] = "foreign_process",
	[VC_AFTER_TASK] = "after_task",
	[VC_EXPIRED_USE] = "expired_use",
	[VC_TASK_DONE] = "task_done",
	[VC_UNMANAGED] = "unmanaged",
};

static const char *const type_names[] = {
	[ISSUER_RFC7009] = "rfc7009",
	[ISSUER_BUILTIN] = "builtin",
	[ISSUER_COMMAND] = "command",
	[ISSUER_WEBHOOK] = "webhook",
};

const char *verdict_class_name(enum policy_class vc)
{
	return (unsigned)vc < VC__COUNT ? class_names[vc] : "?";
}

int verdict_class_parse(const char *name)
{
	for (int i = 0; i < VC__COUNT; i++)
		if (name && !strcmp(name, class_names[i]))
			return i;
	return -1;
}

const char *issuer_type_name(enum issuer_type t)
{
	return (unsigned)t <= ISSUER_WEBHOOK ? type_names[t] : "?";
}

int config_parse_duration_ms(const char *s, unsigned *out_ms)
{
	char *end;
	double v, mult = 1000;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -1;
	if (!strcmp(end, "ms"))
		mult = 1;
	else if (!strcmp(end, "s") || !*end)
		mult = 1000;
	else if (!strcmp(end, "m"))
		mult = 60000;
	else if (!strcmp(end, "h"))
		mult = 3600000;
	else
		return -1;
	v *= mult;
	if (v > 86400000.0 * 30)
		return -1;
	*out_ms = (unsigned)v;
	return 0;
}

struct tw_config *config_defaults(void)
{
	struct tw_config *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->state_dir = strdup(CONFIG_DEFAULT_STATE_DIR);
	c->ledger_path = strdup(LEDGER_DEFAULT_PATH);
	c->ringbuf_size = 16u << 20;
	c->capture_size = 4096;
	/* Every exposure revokes; a token tokenward did not issue can only
	 * be reported, since there is no issuer to ask. */
	for (int i = 0; i < VC__COUNT; i++)
		c->policy[i] = POLICY_REVOKE;
	c->policy[VC_UNMANAGED] = POLICY_ALERT;
	c->revocation.workers = 2;
	c->revocation.backoff_base_ms = 250;
	c->revocation.backoff_max_ms = 60000;
	c->revocation.retry_after_max_ms = 3600000;
	c->retention.max_age_s = 30 * 86400;
	c->retention.max_bytes = 256ull << 20;
	c->retention.parent_depth = 8;
	if (!c->state_dir || !c->ledger_path) {
		config_free(c);
		return NULL;
	}
	return c;
}

static void issuer_clear(struct tw_issuer *is)
{
	free(is->name);
	free(is->revocation_endpoint);
	free(is->client_id);
	free(is->client_secret_file);
	if (is->client_secret) {
		explicit_bzero(is->client_secret, is->client_secret_len);
		free(is->client_secret);
	}
	free(is->token_type_hint);
	free(is->revocation_list);
	for (char **a = is->argv; a && *a; a++)
		free(*a);
	free(is->argv);
	free(is->url);
}

void config_free(struct tw_config *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->state_dir);
	free(c->ledger_path);
	free(c->revocation.key_file);
	free(c->revocation.default_issuer);
	for (size_t i = 0; i < c->nissuers; i++)
		issuer_clear(&c->issuers[i]);
	free(c->issuers);
	free(c);
}

int config_ensure_builtin(struct tw_config *c, const char *name, const char *list_path)
{
	struct tw_issuer *n, *is;

	if (config_issuer(c, name))
		return 0;
	n = realloc(c->issuers, (c->nissuers + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	c->issuers = n;
	is = &c->issuers[c->nissuers];
	memset(is, 0, sizeof(*is));
	is->type = ISSUER_BUILTIN;
	is->name = strdup(name);
	is->revocation_list = strdup(list_path);
	if (!is->name || !is->revocation_list) {
		issuer_clear(is);
		return -ENOMEM;
	}
	c->nissuers++;
	return 0;
}

const struct tw_issuer *config_issuer(const struct tw_config *c, const char *name)
{
	for (size_t i = 0; name && i < c->nissuers; i++)
		if (!strcmp(c->issuers[i].name, name))
			return &c->issuers[i];
	return NULL;
}

const struct tw_issuer *config_default_issuer(const struct tw_config *c)
{
	if (c->revocation.default_issuer)
		return config_issuer(c, c->revocation.default_issuer);
	return c->nissuers == 1 ? &c->issuers[0] : NULL;
}

/* ---- loading ---------------------------------------------------------- */

struct loader {
	yaml_document_t doc;
	const char *name;
	char *err;
	size_t errsz;
	struct tw_config *cfg;
};

static int fail(struct loader *ld, yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct loader *ld, yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;
	int k;

	k = snprintf(ld->err, ld->errsz, "%s:%zu: ", ld->name, n ? n->start_mark.line + 1 : 1);
	if (k < 0 || (size_t)k >= ld->errsz)
		return -1;
	va_start(ap, fmt);
	vsnprintf(ld->err + k, ld->errsz - k, fmt, ap);
	va_end(ap);
	return -1;
}

static yaml_node_t *node(struct loader *ld, int id)
{
	return yaml_document_get_node(&ld->doc, id);
}

static const char *scalar(yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int want_scalar(struct loader *ld, yaml_node_t *v, const char *key, const char **out)
{
	*out = scalar(v);
	if (!*out)
		return fail(ld, v, "'%s' must be a single value", key);
	if (strlen(*out) != v->data.scalar.length)
		return fail(ld, v, "'%s' contains a NUL byte", key);
	return 0;
}

static int want_string(struct loader *ld, yaml_node_t *v, const char *key, char **dst)
{
	const char *s;
	char *copy;

	if (want_scalar(ld, v, key, &s))
		return -1;
	if (!*s)
		return fail(ld, v, "'%s' must not be empty", key);
	copy = strdup(s);
	if (!copy)
		return fail(ld, v, "out of memory");
	free(*dst);
	*dst = copy;
	return 0;
}

static int want_size(struct loader *ld, yaml_node_t *v, const char *key, uint64_t *dst)
{
	const char *s;

	if (want_scalar(ld, v, key, &s))
		return -1;
	if (util_parse_size(s, dst) || *dst == 0)
		return fail(ld, v, "'%s': '%s' is not a size (e.g. 4096, 64K, 16M)", key, s);
	return 0;
}

static int want_duration(struct loader *ld, yaml_node_t *v, const char *key, unsigned *dst)
{
	const char *s;

	if (want_scalar(ld, v, key, &s))
		return -1;
	if (config_parse_duration_ms(s, dst))
		return fail(ld, v, "'%s': '%s' is not a duration (e.g. 500ms, 5s, 2m)", key, s);
	return 0;
}

static int want_bool(struct loader *ld, yaml_node_t *v, const char *key, bool *dst)
{
	const char *s;

	if (want_scalar(ld, v, key, &s))
		return -1;
	if (!strcmp(s, "true") || !strcmp(s, "yes"))
		*dst = true;
	else if (!strcmp(s, "false") || !strcmp(s, "no"))
		*dst = false;
	else
		return fail(ld, v, "'%s' must be true or false, not '%s'", key, s);
	return 0;
}

/* Iterate a mapping: calls fn(ld, key, value, arg) per pair. */
typedef int (*pair_fn)(struct loader *ld, yaml_node_t *k, yaml_node_t *v, void *arg);

static int each_pair(struct loader *ld, yaml_node_t *map, const char *what, pair_fn fn, void *arg)
{
	yaml_node_pair_t *p;

	if (!map || map->type != YAML_MAPPING_NODE)
		return fail(ld, map, "%s must be a mapping of 'key: value'", what);
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(ld, p->key), *v = node(ld, p->value);

		/* Duplicate keys were refused by yamldoc_load, in O(n log n). */
		if (!scalar(k))
			return fail(ld, k, "keys in %s must be plain words", what);
		if (fn(ld, k, v, arg))
			return -1;
	}
	return 0;
}

static int read_secret_file(struct loader *ld, yaml_node_t *at, struct tw_issuer *is)
{
	struct stat st;
	char buf[SECRET_MAX + 1], msg[512];
	ssize_t n;
	int fd;

	/* NOFOLLOW: the mode checked must be the mode of the file read; and a
	 * FIFO must not stall the load. */
	fd = safefile_open_read(is->client_secret_file, SAFEFILE_NOFOLLOW, msg, sizeof(msg));
	if (fd < 0)
		return fail(ld, at, "issuer '%s': cannot open client_secret_file: %s", is->name, msg);
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return fail(ld, at, "issuer '%s': client_secret_file %s is not a regular file",
			    is->name, is->client_secret_file);
	}
	if (st.st_mode & 077) {
		close(fd);
		return fail(ld, at, "issuer '%s': client_secret_file %s has mode %04o; refusing it, "
			    "it must be readable by its owner only (chmod 600)",
			    is->name, is->client_secret_file, st.st_mode & 07777);
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		close(fd);
		return fail(ld, at, "issuer '%s': client_secret_file %s is owned by uid %u; "
			    "it must belong to root or to this user", is->name,
			    is->client_secret_file, st.st_uid);
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0 || n > SECRET_MAX) {
		explicit_bzero(buf, sizeof(buf));
		return fail(ld, at, "issuer '%s': client_secret_file %s: %s", is->name,
			    is->client_secret_file, n < 0 ? strerror(errno) : "larger than 4 KiB");
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (n == 0)
		return fail(ld, at, "issuer '%s': client_secret_file %s is empty", is->name,
			    is->client_secret_file);
	is->client_secret = malloc(n + 1);
	if (!is->client_secret) {
		explicit_bzero(buf, sizeof(buf));
		return fail(ld, at, "out of memory");
	}
	memcpy(is->client_secret, buf, n);
	is->client_secret[n] = 0;
	is->client_secret_len = n;
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

static int issuer_key(struct loader *ld, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct tw_issuer *is = arg;
	const char *key = scalar(k), *s;

	if (!strcmp(key, "type")) {
		if (want_scalar(ld, v, key, &s))
			return -1;
		for (int t = ISSUER_RFC7009; t <= ISSUER_WEBHOOK; t++)
			if (!strcmp(s, type_names[t])) {
				is->type = t;
				return 0;
			}
		return fail(ld, v, "issuer '%s': unknown type '%s' (rfc7009, builtin, command, webhook)",
			    is->name, s);
	}
	if (!strcmp(key, "revocation_endpoint"))
		return want_string(ld, v, key, &is->revocation_endpoint);
	if (!strcmp(key, "client_id"))
		return want_string(ld, v, key, &is->client_id);
	if (!strcmp(key, "client_secret_file"))
		return want_string(ld, v, key, &is->client_secret_file);
	if (!strcmp(key, "auth_method")) {
		if (want_scalar(ld, v, key, &s))
			return -1;
		if (!strcmp(s, "client_secret_basic"))
			is->auth = AUTH_CLIENT_SECRET_BASIC;
		else if (!strcmp(s, "client_secret_post"))
			is->auth = AUTH_CLIENT_SECRET_POST;
		else
			return fail(ld, v, "issuer '%s': auth_method '%s' is not client_secret_basic "
				    "or client_secret_post", is->name, s);
		return 0;
	}
	if (!strcmp(key, "token_type_hint"))
		return want_string(ld, v, key, &is->token_type_hint);
	if (!strcmp(key, "timeout"))
		return want_duration(ld, v, key, &is->timeout_ms);
	if (!strcmp(key, "revocation_list"))
		return want_string(ld, v, key, &is->revocation_list);
	if (!strcmp(key, "url"))
		return want_string(ld, v, key, &is->url);
	if (!strcmp(key, "pass_token"))
		return want_bool(ld, v, key, &is->pass_token);
	if (!strcmp(key, "command")) {
		size_t n = 0, i = 0;
		yaml_node_item_t *it;

		if (!v || v->type != YAML_SEQUENCE_NODE)
			return fail(ld, v, "issuer '%s': command must be a list: [program, arg, ...]",
				    is->name);
		n = v->data.sequence.items.top - v->data.sequence.items.start;
		if (n == 0)
			return fail(ld, v, "issuer '%s': command is empty", is->name);
		is->argv = calloc(n + 1, sizeof(char *));
		if (!is->argv)
			return fail(ld, v, "out of memory");
		for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++, i++)
			if (want_string(ld, node(ld, *it), "command", &is->argv[i]))
				return -1;
		if (is->argv[0][0] != '/')
			return fail(ld, v, "issuer '%s': command program must be an absolute path",
				    is->name);
		return 0;
	}
	return fail(ld, k, "issuer '%s': unknown key '%s'", is->name, key);
}

static bool url_ok(const char *u)
{
	return !strncmp(u, "https://", 8) || !strncmp(u, "http://", 7);
}

static int issuer_check(struct loader *ld, yaml_node_t *at, struct tw_issuer *is, bool type_seen)
{
	if (!type_seen)
		return fail(ld, at, "issuer '%s': 'type' is required", is->name);
	switch (is->type) {
	case ISSUER_RFC7009:
		if (!is->revocation_endpoint || !is->client_id || !is->client_secret_file)
			return fail(ld, at, "issuer '%s': rfc7009 needs revocation_endpoint, "
				    "client_id and client_secret_file", is->name);
		if (!url_ok(is->revocation_endpoint))
			return fail(ld, at, "issuer '%s': revocation_endpoint must be an http(s) URL",
				    is->name);
		return read_secret_file(ld, at, is);
	case ISSUER_BUILTIN:
		if (!is->revocation_list)
			return fail(ld, at, "issuer '%s': builtin needs revocation_list", is->name);
		return 0;
	case ISSUER_COMMAND:
		if (!is->argv)
			return fail(ld, at, "issuer '%s': command type needs 'command'", is->name);
		return 0;
	case ISSUER_WEBHOOK:
		if (!is->url || !url_ok(is->url))
			return fail(ld, at, "issuer '%s': webhook needs an http(s) url", is->name);
		return 0;
	}
	return 0;
}

static int issuers_entry(struct loader *ld, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct tw_config *c = ld->cfg;
	struct tw_issuer *is;
	bool type_seen = false;
	(void)arg;

	is = &c->issuers[c->nissuers++];
	memset(is, 0, sizeof(*is));
	is->name = strdup(scalar(k));
	if (!is->name)
		return fail(ld, k, "out of memory");
	is->line = k->start_mark.line + 1;
	is->timeout_ms = 5000;
	if (v && v->type == YAML_MAPPING_NODE)
		for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++)
			type_seen |= !strcmp(scalar(node(ld, p->key)) ?: "", "type");
	if (each_pair(ld, v, "an issuer", issuer_key, is))
		return -1;
	return issuer_check(ld, k, is, type_seen);
}

static int policy_entry(struct loader *ld, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	int vc = verdict_class_parse(scalar(k));
	const char *s;
	(void)arg;

	if (vc < 0)
		return fail(ld, k, "policy: unknown verdict class '%s'", scalar(k));
	if (want_scalar(ld, v, scalar(k), &s))
		return -1;
	if (!strcmp(s, "revoke"))
		ld->cfg->policy[vc] = POLICY_REVOKE;
	else if (!strcmp(s, "alert"))
		ld->cfg->policy[vc] = POLICY_ALERT;
	else
		return fail(ld, v, "policy: '%s' must be revoke or alert, not '%s'", scalar(k), s);
	return 0;
}

static int revocation_entry(struct loader *ld, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct tw_revocation_cfg *r = &ld->cfg->revocation;
	const char *key = scalar(k), *s;
	(void)arg;

	if (!strcmp(key, "workers")) {
		uint64_t n;

		if (want_scalar(ld, v, key, &s))
			return -1;
		if (util_parse_size(s, &n) || n < 1 || n > 64)
			return fail(ld, v, "'workers' must be 1..64, not '%s'", s);
		r->workers = n;
		return 0;
	}
	if (!strcmp(key, "backoff_base"))
		return want_duration(ld, v, key, &r->backoff_base_ms);
	if (!strcmp(key, "backoff_max"))
		return want_duration(ld, v, key, &r->backoff_max_ms);
	if (!strcmp(key, "retry_after_max"))
		return want_duration(ld, v, key, &r->retry_after_max_ms);
	if (!strcmp(key, "key_file"))
		return want_string(ld, v, key, &r->key_file);
	if (!strcmp(key, "default_issuer"))
		return want_string(ld, v, key, &r->default_issuer);
	if (!strcmp(key, "synchronous")) {
		if (want_scalar(ld, v, key, &s))
			return -1;
		if (strcmp(s, "normal") && strcmp(s, "full"))
			return fail(ld, v, "'synchronous' must be normal or full, not '%s'", s);
		r->sync_full = !strcmp(s, "full");
		return 0;
	}
	return fail(ld, k, "revocation: unknown key '%s'", key);
}

/* ---- retention: the event store (user/ledger/evstore.h) ---- */
static int retention_entry(struct loader *ld, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct tw_retention_cfg *r = &ld->cfg->retention;
	const char *key = scalar(k), *s;
	(void)arg;

	if (!strcmp(key, "max_age")) {
		if (want_scalar(ld, v, key, &s))
			return -1;
		if (timeparse_age_s(s, &r->max_age_s))
			return fail(ld, v, "retention: 'max_age': '%s' is not an age (e.g. 12h, 30d)", s);
		return 0;
	}
	if (!strcmp(key, "max_size")) {
		if (want_scalar(ld, v, key, &s))
			return -1;
		if (util_parse_size(s, &r->max_bytes))
			return fail(ld, v, "retention: 'max_size': '%s' is not a size (e.g. 64M, 1G)", s);
		return 0;
	}
	if (!strcmp(key, "parent_depth")) {
		char *end;
		unsigned long d;

		if (want_scalar(ld, v, key, &s))
			return -1;
		d = strtoul(s, &end, 10);
		if (!*s || *end || d > 64)
			return fail(ld, v, "retention: 'parent_depth' must be 0..64");
		r->parent_depth = (unsigned)d;
		return 0;
	}
	return fail(ld, k, "retention: unknown key '%s'", key);
}

static int top_entry(struct loader *ld, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct tw_config *c = ld->cfg;
	const char *key = scalar(k);
	(void)arg;

	if (!strcmp(key, "state_dir"))
		return want_string(ld, v, key, &c->state_dir);
	if (!strcmp(key, "ledger"))
		return want_string(ld, v, key, &c->ledger_path);
	if (!strcmp(key, "ringbuf_size")) {
		if (want_size(ld, v, key, &c->ringbuf_size))
			return -1;
		if (c->ringbuf_size & (c->ringbuf_size - 1))
			return fail(ld, v, "'ringbuf_size' must be a power of two");
		return 0;
	}
	if (!strcmp(key, "capture_size"))
		return want_size(ld, v, key, &c->capture_size);
	if (!strcmp(key, "policy"))
		return each_pair(ld, v, "'policy'", policy_entry, NULL);
	if (!strcmp(key, "revocation"))
		return each_pair(ld, v, "'revocation'", revocation_entry, NULL);
	if (!strcmp(key, "retention"))
		return each_pair(ld, v, "'retention'", retention_entry, NULL);
	if (!strcmp(key, "issuers")) {
		size_t n;

		if (!v || v->type != YAML_MAPPING_NODE)
			return fail(ld, v, "'issuers' must be a mapping of name: {type: ...}");
		n = v->data.mapping.pairs.top - v->data.mapping.pairs.start;
		if (c->issuers)
			return fail(ld, k, "'issuers' given twice");
		c->issuers = calloc(n ? n : 1, sizeof(*c->issuers));
		if (!c->issuers)
			return fail(ld, v, "out of memory");
		return each_pair(ld, v, "'issuers'", issuers_entry, NULL);
	}
	return fail(ld, k, "unknown key '%s'", key);
}

static int load_doc(struct loader *ld, yaml_node_t *root)
{
	struct tw_revocation_cfg *r = &ld->cfg->revocation;

	if (!root)
		return 0;       /* an empty file: all defaults */
	if (root->type == YAML_SCALAR_NODE && !root->data.scalar.length)
		return 0;
	if (each_pair(ld, root, "the top level", top_entry, NULL))
		return -1;
	if (r->backoff_max_ms < r->backoff_base_ms)
		return fail(ld, NULL, "revocation: backoff_max is smaller than backoff_base");
	if (r->default_issuer && !config_issuer(ld->cfg, r->default_issuer))
		return fail(ld, NULL, "revocation: default_issuer '%s' is not among the issuers",
			    r->default_issuer);
	return 0;
}

static int load_text(const char *text, size_t len, const char *name, struct tw_config **out,
		     char *err, size_t errsz)
{
	struct loader ld = { .name = name, .err = err, .errsz = errsz };
	int rc;

	if (yamldoc_load(&ld.doc, name, text, len, err, errsz))
		return -1;
	ld.cfg = config_defaults();
	if (!ld.cfg) {
		yaml_document_delete(&ld.doc);
		snprintf(err, errsz, "%s: out of memory", name);
		return -1;
	}
	rc = load_doc(&ld, yaml_document_get_root_node(&ld.doc));
	yaml_document_delete(&ld.doc);
	if (rc) {
		config_free(ld.cfg);
		return -1;
	}
	ld.cfg->path = strdup(name);
	*out = ld.cfg;
	return 0;
}

int config_load_string(const char *yaml, const char *name, struct tw_config **out,
		       char *err, size_t errsz)
{
	return load_text(yaml, strlen(yaml), name, out, err, errsz);
}

int config_load(const char *path, struct tw_config **out, char *err, size_t errsz)
{
	char *text;
	size_t len;
	FILE *f;
	int rc;

	if (!path) {
		if (access(CONFIG_DEFAULT_PATH, F_OK)) {
			*out = config_defaults();
			if (!*out) {
				snprintf(err, errsz, "out of memory");
				return -1;
			}
			return 0;
		}
		path = CONFIG_DEFAULT_PATH;
	}
	/* --config names any file: a FIFO must not stall the command. */
	if (!(f = safefile_fopen_read(path, 0, err, errsz)))
		return -1;
	rc = yamldoc_read(f, path, &text, &len, err, errsz);
	fclose(f);
	if (rc)
		return -1;
	rc = load_text(text, len, path, out, err, errsz);
	free(text);
	return rc;
}
