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
#include <stddef.h>
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
#include "tokenward.h"
#include "output/outputs_config.h"

#define SECRET_MAX 4096
/* the sensors' own bounds (bpf/tokenward.h), so that the two never drift */
#define CONFIG_CAPTURE_DEFAULT TW_CAP_DEFAULT
#define CONFIG_CAPTURE_LIMIT TW_CAP_LIMIT
#define LIST_MAX 16
#define CONFIG_ERRORS_MAX 8192

/* Sections other modules parse (config_register_section). */
static struct {
	const char *name;
	config_section_fn parse;
	void (*free_fn)(void *);
} sections[CONFIG_SECTIONS_MAX];
static size_t nsections;

/* Known but handled by a module this build may not have: refused by name. */
static const char *const reserved_sections[] = { NULL };
/* Parsed by output/outputs_config.c, named here for "did you mean". */
static const char *const output_sections[] = { "metrics", "outputs", NULL };

static void strv_free(char **v)
{
	for (char **a = v; a && *a; a++)
		free(*a);
	free(v);
}

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
	c->capture_size = CONFIG_CAPTURE_DEFAULT;
	c->wakeup_bytes = 64u << 10;
	c->poll_ms = 5;
	c->stream_tail = 1024;
	c->file_tail_ms = 2;
	c->sock_batch_ms = 2;
	c->events_keep = 5;
	c->flood_cap = CONFIG_FLOOD_CAP_DEFAULT;
	c->file_tail = c->sock_batch = c->tls = c->path_cache = c->sweep = true;
	c->rules_dirs = calloc(1, sizeof(char *));
	c->events = calloc(1, sizeof(char *));
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
	if (!c->state_dir || !c->ledger_path || !c->rules_dirs || !c->events) {
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
	free(c->cgroup);
	strv_free(c->rules_dirs);
	strv_free(c->events);
	for (size_t i = 0; i < c->norigins; i++)
		free(c->origins[i].key);
	free(c->origins);
	for (size_t i = 0; i < nsections; i++)
		if (c->sections[i] && sections[i].free_fn)
			sections[i].free_fn(c->sections[i]);
	free(c->revocation.key_file);
	free(c->revocation.default_issuer);
	for (size_t i = 0; i < c->nissuers; i++)
		issuer_clear(&c->issuers[i]);
	free(c->issuers);
	outputs_config_free(c->outputs);
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

struct config_loader {
	/* every error in the file, one "FILE:LINE: what" a line: a pair that
	 * fails is recorded and the next one is read */
	char all[CONFIG_ERRORS_MAX];
	size_t all_len;
	int nerrors;
	int flags;                  /* CONFIG_NO_SECRETS */
	yaml_document_t doc;
	const char *name;
	char *err;
	size_t errsz;
	struct tw_config *cfg;
};

static yaml_node_t *node(struct config_loader *ld, int id)
{
	return yaml_document_get_node(&ld->doc, id);
}

static const char *scalar(yaml_node_t *n);

int config_fail(struct config_loader *ld, yaml_node_t *n, const char *fmt, ...)
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

yaml_node_t *config_node(struct config_loader *ld, int id)
{
	return node(ld, id);
}

static struct config_origin *origin_slot(struct tw_config *c, const char *key)
{
	struct config_origin *n;

	for (size_t i = 0; i < c->norigins; i++)
		if (!strcmp(c->origins[i].key, key))
			return &c->origins[i];
	if (!(n = realloc(c->origins, (c->norigins + 1) * sizeof(*n))))
		return NULL;
	c->origins = n;
	n = &c->origins[c->norigins];
	if (!(n->key = strdup(key)))
		return NULL;
	n->line = 0;
	n->flag = NULL;
	c->norigins++;
	return n;
}

/* key (a dotted path) was set at node n of the file. */
static int note(struct config_loader *ld, yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int note(struct config_loader *ld, yaml_node_t *n, const char *fmt, ...)
{
	struct config_origin *o;
	char key[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(key, sizeof(key), fmt, ap);
	va_end(ap);
	if (!(o = origin_slot(ld->cfg, key)))
		return config_fail(ld, n, "out of memory");
	o->line = n ? (int)n->start_mark.line + 1 : 1;
	return 0;
}

int config_note_flag(struct tw_config *c, const char *key, const char *flag)
{
	struct config_origin *o = origin_slot(c, key);

	if (!o)
		return -ENOMEM;
	o->line = -1;
	o->flag = flag;
	return 0;
}

int config_origin_of(const struct tw_config *c, const char *key, const char **flag)
{
	for (size_t i = 0; c && i < c->norigins; i++)
		if (!strcmp(c->origins[i].key, key)) {
			if (flag)
				*flag = c->origins[i].flag;
			return c->origins[i].line;
		}
	return 0;
}

/* Levenshtein distance, bounded: words here are short keys. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[65], prev, tmp;

	if (la > 64 || lb > 64)
		return 64;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t best = prev + (a[i - 1] != b[j - 1]);

			tmp = row[j];
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = tmp;
		}
	}
	return row[lb];
}

const char *config_suggest(const char *word, const char *const *cands)
{
	const char *best = NULL;
	size_t bestd = 64, len = word ? strlen(word) : 0;

	for (const char *const *c = cands; word && c && *c; c++) {
		size_t d = edit_distance(word, *c);

		if (d < bestd) {
			bestd = d;
			best = *c;
		}
	}
	/* a typo, not another word: at most 2 edits, and fewer than a third of it */
	return best && bestd <= 2 && bestd * 3 <= len + 1 ? best : NULL;
}

/* "unknown key 'x'" with a suggestion when one is close. */
static int unknown_key(struct config_loader *ld, yaml_node_t *k, const char *where,
		       const char *const *known)
{
	const char *key = scalar(k), *near = config_suggest(key, known);

	if (near)
		return config_fail(ld, k, "%sunknown key '%s'; did you mean '%s'?", where, key, near);
	return config_fail(ld, k, "%sunknown key '%s'", where, key);
}

static const char *scalar(yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int want_scalar(struct config_loader *ld, yaml_node_t *v, const char *key, const char **out)
{
	*out = scalar(v);
	if (!*out)
		return config_fail(ld, v, "'%s' must be a single value", key);
	if (strlen(*out) != v->data.scalar.length)
		return config_fail(ld, v, "'%s' contains a NUL byte", key);
	return 0;
}

static int want_string(struct config_loader *ld, yaml_node_t *v, const char *key, char **dst)
{
	const char *s;
	char *copy;

	if (want_scalar(ld, v, key, &s))
		return -1;
	if (!*s)
		return config_fail(ld, v, "'%s' must not be empty", key);
	copy = strdup(s);
	if (!copy)
		return config_fail(ld, v, "out of memory");
	free(*dst);
	*dst = copy;
	return 0;
}

static int want_duration(struct config_loader *ld, yaml_node_t *v, const char *key, unsigned *dst)
{
	const char *s;

	if (want_scalar(ld, v, key, &s))
		return -1;
	if (config_parse_duration_ms(s, dst))
		return config_fail(ld, v, "'%s': '%s' is not a duration (e.g. 500ms, 5s, 2m)", key, s);
	return 0;
}

static int want_bool(struct config_loader *ld, yaml_node_t *v, const char *key, bool *dst)
{
	const char *s;

	if (want_scalar(ld, v, key, &s))
		return -1;
	if (!strcmp(s, "true") || !strcmp(s, "yes"))
		*dst = true;
	else if (!strcmp(s, "false") || !strcmp(s, "no"))
		*dst = false;
	else
		return config_fail(ld, v, "'%s' must be true or false, not '%s'", key, s);
	return 0;
}

/* Iterate a mapping: calls fn(ld, key, value, arg) per pair. */
typedef int (*pair_fn)(struct config_loader *ld, yaml_node_t *k, yaml_node_t *v, void *arg);

static void record_error(struct config_loader *ld)
{
	int k;

	/* a nested error was recorded already and reported up: once is enough */
	if (!ld->err[0])
		return;
	k = snprintf(ld->all + ld->all_len, sizeof(ld->all) - ld->all_len, "%s%s",
		     ld->nerrors ? "\n" : "", ld->err);
	if (k > 0 && (size_t)k < sizeof(ld->all) - ld->all_len)
		ld->all_len += k;
	ld->nerrors++;
	ld->err[0] = 0;
}

static int each_pair(struct config_loader *ld, yaml_node_t *map, const char *what, pair_fn fn, void *arg)
{
	yaml_node_pair_t *p;
	int before = ld->nerrors;

	if (!map || map->type != YAML_MAPPING_NODE)
		return config_fail(ld, map, "%s must be a mapping of 'key: value'", what);
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(ld, p->key), *v = node(ld, p->value);

		/* Duplicate keys were refused by yamldoc_load, in O(n log n). */
		if (!scalar(k))
			return config_fail(ld, k, "keys in %s must be plain words", what);
		if (fn(ld, k, v, arg))
			record_error(ld);
	}
	return ld->nerrors > before ? -1 : 0;
}

static int read_secret_file(struct config_loader *ld, yaml_node_t *at, struct tw_issuer *is)
{
	struct stat st;
	char buf[SECRET_MAX + 1], msg[512];
	ssize_t n;
	int fd;

	/* NOFOLLOW: the mode checked must be the mode of the file read; and a
	 * FIFO must not stall the load. */
	fd = safefile_open_read(is->client_secret_file, SAFEFILE_NOFOLLOW, msg, sizeof(msg));
	if (fd < 0)
		return config_fail(ld, at, "issuer '%s': cannot open client_secret_file: %s", is->name, msg);
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return config_fail(ld, at, "issuer '%s': client_secret_file %s is not a regular file",
			    is->name, is->client_secret_file);
	}
	if (st.st_mode & 077) {
		close(fd);
		return config_fail(ld, at, "issuer '%s': client_secret_file %s has mode %04o; refusing it, "
			    "it must be readable by its owner only (chmod 600)",
			    is->name, is->client_secret_file, st.st_mode & 07777);
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		close(fd);
		return config_fail(ld, at, "issuer '%s': client_secret_file %s is owned by uid %u; "
			    "it must belong to root or to this user", is->name,
			    is->client_secret_file, st.st_uid);
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0 || n > SECRET_MAX) {
		explicit_bzero(buf, sizeof(buf));
		return config_fail(ld, at, "issuer '%s': client_secret_file %s: %s", is->name,
			    is->client_secret_file, n < 0 ? strerror(errno) : "larger than 4 KiB");
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (n == 0)
		return config_fail(ld, at, "issuer '%s': client_secret_file %s is empty", is->name,
			    is->client_secret_file);
	is->client_secret = malloc(n + 1);
	if (!is->client_secret) {
		explicit_bzero(buf, sizeof(buf));
		return config_fail(ld, at, "out of memory");
	}
	memcpy(is->client_secret, buf, n);
	is->client_secret[n] = 0;
	is->client_secret_len = n;
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

static int issuer_key(struct config_loader *ld, yaml_node_t *k, yaml_node_t *v, void *arg)
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
		return config_fail(ld, v, "issuer '%s': unknown type '%s' (rfc7009, builtin, command, webhook)",
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
			return config_fail(ld, v, "issuer '%s': auth_method '%s' is not client_secret_basic "
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
			return config_fail(ld, v, "issuer '%s': command must be a list: [program, arg, ...]",
				    is->name);
		n = v->data.sequence.items.top - v->data.sequence.items.start;
		if (n == 0)
			return config_fail(ld, v, "issuer '%s': command is empty", is->name);
		is->argv = calloc(n + 1, sizeof(char *));
		if (!is->argv)
			return config_fail(ld, v, "out of memory");
		for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++, i++)
			if (want_string(ld, node(ld, *it), "command", &is->argv[i]))
				return -1;
		if (is->argv[0][0] != '/')
			return config_fail(ld, v, "issuer '%s': command program must be an absolute path",
				    is->name);
		return 0;
	}
	{
		static const char *const known[] = { "type", "revocation_endpoint", "client_id",
			"client_secret_file", "auth_method", "token_type_hint", "timeout",
			"revocation_list", "url", "pass_token", "command", NULL };
		char where[160];

		snprintf(where, sizeof(where), "issuer '%s': ", is->name);
		return unknown_key(ld, k, where, known);
	}
}

static bool url_ok(const char *u)
{
	return !strncmp(u, "https://", 8) || !strncmp(u, "http://", 7);
}

static int issuer_check(struct config_loader *ld, yaml_node_t *at, struct tw_issuer *is, bool type_seen)
{
	if (!type_seen)
		return config_fail(ld, at, "issuer '%s': 'type' is required", is->name);
	switch (is->type) {
	case ISSUER_RFC7009:
		if (!is->revocation_endpoint || !is->client_id || !is->client_secret_file)
			return config_fail(ld, at, "issuer '%s': rfc7009 needs revocation_endpoint, "
				    "client_id and client_secret_file", is->name);
		if (!url_ok(is->revocation_endpoint))
			return config_fail(ld, at, "issuer '%s': revocation_endpoint must be an http(s) URL",
				    is->name);
		/* a command that only needs the ledger may be run by a user who
		 * cannot read root's secret: it is neither read nor needed */
		return (ld->flags & CONFIG_NO_SECRETS) ? 0 : read_secret_file(ld, at, is);
	case ISSUER_BUILTIN:
		if (!is->revocation_list)
			return config_fail(ld, at, "issuer '%s': builtin needs revocation_list", is->name);
		return 0;
	case ISSUER_COMMAND:
		if (!is->argv)
			return config_fail(ld, at, "issuer '%s': command type needs 'command'", is->name);
		return 0;
	case ISSUER_WEBHOOK:
		if (!is->url || !url_ok(is->url))
			return config_fail(ld, at, "issuer '%s': webhook needs an http(s) url", is->name);
		return 0;
	}
	return 0;
}

static int issuers_entry(struct config_loader *ld, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct tw_config *c = ld->cfg;
	struct tw_issuer *is;
	bool type_seen = false;
	(void)arg;

	is = &c->issuers[c->nissuers++];
	memset(is, 0, sizeof(*is));
	is->name = strdup(scalar(k));
	if (!is->name)
		return config_fail(ld, k, "out of memory");
	is->line = k->start_mark.line + 1;
	is->timeout_ms = 5000;
	if (note(ld, k, "issuers.%s", is->name))
		return -1;
	if (v && v->type == YAML_MAPPING_NODE)
		for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++)
			type_seen |= !strcmp(scalar(node(ld, p->key)) ?: "", "type");
	if (each_pair(ld, v, "an issuer", issuer_key, is))
		return -1;
	return issuer_check(ld, k, is, type_seen);
}

static int policy_entry(struct config_loader *ld, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	int vc = verdict_class_parse(scalar(k));
	const char *s;
	(void)arg;

	if (vc < 0) {
		const char *near = config_suggest(scalar(k), (const char *const[]){ "file_write",
			"exec_env", "exec_argv", "net_dest", "foreign_process", "after_task",
			"expired_use", "task_done", "unmanaged", NULL });

		return near ? config_fail(ld, k, "policy: unknown verdict class '%s'; did you mean '%s'?",
				   scalar(k), near)
			    : config_fail(ld, k, "policy: unknown verdict class '%s'", scalar(k));
	}
	if (note(ld, v, "policy.%s", class_names[vc]))
		return -1;
	if (want_scalar(ld, v, scalar(k), &s))
		return -1;
	if (!strcmp(s, "revoke"))
		ld->cfg->policy[vc] = POLICY_REVOKE;
	else if (!strcmp(s, "alert"))
		ld->cfg->policy[vc] = POLICY_ALERT;
	else
		return config_fail(ld, v, "policy: '%s' must be revoke or alert, not '%s'", scalar(k), s);
	return 0;
}

static int revocation_entry(struct config_loader *ld, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct tw_revocation_cfg *r = &ld->cfg->revocation;
	const char *key = scalar(k), *s;
	(void)arg;

	if (note(ld, v, "revocation.%s", key))
		return -1;

	if (!strcmp(key, "workers")) {
		uint64_t n;

		if (want_scalar(ld, v, key, &s))
			return -1;
		if (util_parse_size(s, &n) || n < 1 || n > 64)
			return config_fail(ld, v, "'workers' must be 1..64, not '%s'", s);
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
			return config_fail(ld, v, "'synchronous' must be normal or full, not '%s'", s);
		r->sync_full = !strcmp(s, "full");
		return 0;
	}
	{
		static const char *const known[] = { "workers", "backoff_base", "backoff_max",
			"retry_after_max", "key_file", "default_issuer", "synchronous", NULL };

		return unknown_key(ld, k, "revocation: ", known);
	}
}

/* ---- retention: the event store (user/ledger/evstore.h) ---- */
static int retention_entry(struct config_loader *ld, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct tw_retention_cfg *r = &ld->cfg->retention;
	const char *key = scalar(k), *s;
	(void)arg;

	if (!strcmp(key, "max_age")) {
		if (want_scalar(ld, v, key, &s))
			return -1;
		if (timeparse_age_s(s, &r->max_age_s))
			return config_fail(ld, v, "retention: 'max_age': '%s' is not an age (e.g. 12h, 30d)", s);
		return 0;
	}
	if (!strcmp(key, "max_size")) {
		if (want_scalar(ld, v, key, &s))
			return -1;
		if (util_parse_size(s, &r->max_bytes))
			return config_fail(ld, v, "retention: 'max_size': '%s' is not a size (e.g. 64M, 1G)", s);
		return 0;
	}
	if (!strcmp(key, "parent_depth")) {
		char *end;
		unsigned long d;

		if (want_scalar(ld, v, key, &s))
			return -1;
		d = strtoul(s, &end, 10);
		if (!*s || *end || d > 64)
			return config_fail(ld, v, "retention: 'parent_depth' must be 0..64");
		r->parent_depth = (unsigned)d;
		return 0;
	}
	{
		static const char *const known[] = { "max_age", "max_size", "parent_depth", NULL };

		return unknown_key(ld, k, "retention: ", known);
	}
}

/* ---- the top level: one table, so that check, show and CONFIG.md agree */

enum key_kind { K_STR, K_LIST, K_SIZE, K_NUM, K_BOOL, K_SECTION };

struct key_def {
	const char *name;
	enum key_kind kind;
	size_t off;                 /* into struct tw_config */
	uint64_t min, max;          /* K_SIZE, K_NUM */
	const char *flag;           /* the `run` flag that overrides it */
	int pow2;
};

#define F(m) offsetof(struct tw_config, m)
static const struct key_def keys[] = {
	{ "state_dir", K_STR, F(state_dir), 0, 0, "--state-dir", 0 },
	{ "ledger", K_STR, F(ledger_path), 0, 0, "--ledger", 0 },
	{ "rules_dirs", K_LIST, F(rules_dirs), 0, 0, "--rules", 0 },
	{ "events", K_LIST, F(events), 0, 0, "--events", 0 },
	{ "events_max_size", K_SIZE, F(events_max_size), 0, 1ull << 40, "--events-max-size", 0 },
	{ "events_keep", K_NUM, F(events_keep), 1, 100, "--events-keep", 0 },
	{ "cgroup", K_STR, F(cgroup), 0, 0, "--cgroup", 0 },
	{ "flood_cap", K_NUM, F(flood_cap), 0, CONFIG_FLOOD_CAP_MAX, "--flood-cap", 0 },
	{ "ringbuf_size", K_SIZE, F(ringbuf_size), 4096, 1ull << 31, "--ringbuf-size", 1 },
	{ "capture_size", K_SIZE, F(capture_size), 1, CONFIG_CAPTURE_LIMIT, "--capture-bytes", 0 },
	{ "wakeup_bytes", K_SIZE, F(wakeup_bytes), 0, UINT32_MAX, "--wakeup-bytes", 0 },
	{ "poll_ms", K_NUM, F(poll_ms), 1, 1000, "--poll-ms", 0 },
	{ "stream_tail", K_SIZE, F(stream_tail), 0, 64 << 10, "--stream-tail", 0 },
	{ "file_tail", K_BOOL, F(file_tail), 0, 0, "--no-file-tail", 0 },
	{ "file_tail_ms", K_NUM, F(file_tail_ms), 1, 10000, "--file-tail-ms", 0 },
	{ "sock_batch", K_BOOL, F(sock_batch), 0, 0, "--no-sock-batch", 0 },
	{ "sock_batch_ms", K_NUM, F(sock_batch_ms), 1, 10000, "--sock-batch-ms", 0 },
	{ "tls", K_BOOL, F(tls), 0, 0, "--no-tls", 0 },
	{ "capture_pipes", K_BOOL, F(capture_pipes), 0, 0, "--capture-pipes", 0 },
	{ "path_cache", K_BOOL, F(path_cache), 0, 0, "--no-path-cache", 0 },
	{ "sweep", K_BOOL, F(sweep), 0, 0, "--no-sweep", 0 },
	{ "trace_io", K_BOOL, F(trace_io), 0, 0, "--trace-io", 0 },
	{ "policy", K_SECTION, 0, 0, 0, NULL, 0 },
	{ "revocation", K_SECTION, 0, 0, 0, NULL, 0 },
	{ "issuers", K_SECTION, 0, 0, 0, NULL, 0 },
	{ "retention", K_SECTION, 0, 0, 0, NULL, 0 },
};
#undef F

static const char *const *known_top(void)
{
	static const char *names[sizeof(keys) / sizeof(keys[0]) + 4];

	if (!names[0]) {
		size_t n = 0;

		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			names[n++] = keys[i].name;
		for (size_t i = 0; reserved_sections[i]; i++)
			names[n++] = reserved_sections[i];
		for (size_t i = 0; output_sections[i]; i++)
			names[n++] = output_sections[i];
	}
	return names;
}

static int want_list(struct config_loader *ld, yaml_node_t *v, const char *key, char ***dst)
{
	char **list;
	size_t n, i = 0;

	if (v && v->type == YAML_SCALAR_NODE)
		n = 1;
	else if (v && v->type == YAML_SEQUENCE_NODE)
		n = v->data.sequence.items.top - v->data.sequence.items.start;
	else
		return config_fail(ld, v, "'%s' must be a path or a list of paths", key);
	if (n > LIST_MAX)
		return config_fail(ld, v, "'%s': at most %d entries", key, LIST_MAX);
	if (!(list = calloc(n + 1, sizeof(char *))))
		return config_fail(ld, v, "out of memory");
	if (v->type == YAML_SCALAR_NODE) {
		if (want_string(ld, v, key, &list[0]))
			goto bad;
	} else {
		for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++)
			if (want_string(ld, node(ld, *it), key, &list[i++]))
				goto bad;
	}
	strv_free(*dst);
	*dst = list;
	return 0;
bad:
	strv_free(list);
	return -1;
}

/* A rules directory that is missing fails here, by line, not at start. */
static int check_dirs(struct config_loader *ld, yaml_node_t *v, char **dirs)
{
	struct stat st;

	for (char **d = dirs; *d; d++) {
		if (stat(*d, &st))
			return config_fail(ld, v, "rules_dirs: %s: %s", *d, strerror(errno));
		if (!S_ISDIR(st.st_mode))
			return config_fail(ld, v, "rules_dirs: %s is not a directory", *d);
	}
	return 0;
}

static int top_value(struct config_loader *ld, const struct key_def *d, yaml_node_t *v)
{
	char *base = (char *)ld->cfg;
	uint64_t *u = (uint64_t *)(base + d->off);
	const char *s;

	switch (d->kind) {
	case K_STR:
		return want_string(ld, v, d->name, (char **)(base + d->off));
	case K_LIST:
		if (want_list(ld, v, d->name, (char ***)(base + d->off)))
			return -1;
		if (!strcmp(d->name, "rules_dirs"))
			return check_dirs(ld, v, *(char ***)(base + d->off));
		return 0;
	case K_BOOL:
		return want_bool(ld, v, d->name, (bool *)(base + d->off));
	case K_SIZE:
	case K_NUM:
		if (want_scalar(ld, v, d->name, &s))
			return -1;
		if (util_parse_size(s, u) || (d->kind == K_NUM && strspn(s, "0123456789") != strlen(s)))
			return config_fail(ld, v, "'%s': '%s' is not %s", d->name, s,
				    d->kind == K_SIZE ? "a size (e.g. 4096, 64K, 16M)" : "a whole number");
		if (*u < d->min || *u > d->max)
			return config_fail(ld, v, "'%s' must be %llu..%llu, not '%s'", d->name,
				    (unsigned long long)d->min, (unsigned long long)d->max, s);
		if (d->pow2 && (*u & (*u - 1)))
			return config_fail(ld, v, "'%s' must be a power of two", d->name);
		return 0;
	case K_SECTION:
		break;
	}
	return 0;
}

static int issuers_value(struct config_loader *ld, yaml_node_t *k, yaml_node_t *v)
{
	struct tw_config *c = ld->cfg;
	size_t n;

	if (!v || v->type != YAML_MAPPING_NODE)
		return config_fail(ld, v, "'issuers' must be a mapping of name: {type: ...}");
	n = v->data.mapping.pairs.top - v->data.mapping.pairs.start;
	if (c->issuers)
		return config_fail(ld, k, "'issuers' given twice");
	c->issuers = calloc(n ? n : 1, sizeof(*c->issuers));
	if (!c->issuers)
		return config_fail(ld, v, "out of memory");
	return each_pair(ld, v, "'issuers'", issuers_entry, NULL);
}

static int section_value(struct config_loader *ld, yaml_node_t *k, yaml_node_t *v)
{
	const char *key = scalar(k);

	for (size_t i = 0; i < nsections; i++)
		if (!strcmp(sections[i].name, key)) {
			if (note(ld, k, "%s", key))
				return -1;
			return sections[i].parse(ld, v, &ld->cfg->sections[i]);
		}
	for (size_t i = 0; reserved_sections[i]; i++)
		if (!strcmp(reserved_sections[i], key))
			return config_fail(ld, k, "'%s' is not supported by this build of tokenward "
				    "(docs/CONFIG.md)", key);
	return 1;
}

static int top_entry(struct config_loader *ld, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	const char *key = scalar(k);
	int r;
	(void)arg;

	/* metrics: and outputs: are parsed beside the outputs (output/outputs_config.c) */
	if ((r = outputs_config_key(&ld->cfg->outputs, &ld->doc, key, v, ld->name, ld->err, ld->errsz)) <= 0)
		return r < 0 || note(ld, k, "%s", key) ? -1 : 0;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(keys[i].name, key))
			continue;
		if (!strcmp(key, "policy"))
			return each_pair(ld, v, "'policy'", policy_entry, NULL);
		if (!strcmp(key, "revocation"))
			return each_pair(ld, v, "'revocation'", revocation_entry, NULL);
		if (!strcmp(key, "issuers"))
			return issuers_value(ld, k, v);
		if (!strcmp(key, "retention"))
			return each_pair(ld, v, "'retention'", retention_entry, NULL);
		return top_value(ld, &keys[i], v) || note(ld, v, "%s", key) ? -1 : 0;
	}
	if ((r = section_value(ld, k, v)) <= 0)
		return r;
	return unknown_key(ld, k, "", known_top());
}

int config_register_section(const char *name, config_section_fn parse, void (*free_fn)(void *))
{
	for (size_t i = 0; i < nsections; i++)
		if (!strcmp(sections[i].name, name))
			return 0;
	if (nsections == CONFIG_SECTIONS_MAX)
		return -ENOSPC;
	sections[nsections].name = name;
	sections[nsections].parse = parse;
	sections[nsections].free_fn = free_fn;
	nsections++;
	return 0;
}

void *config_section(const struct tw_config *c, const char *name)
{
	for (size_t i = 0; c && i < nsections; i++)
		if (!strcmp(sections[i].name, name))
			return c->sections[i];
	return NULL;
}

static int load_doc(struct config_loader *ld, yaml_node_t *root)
{
	struct tw_revocation_cfg *r = &ld->cfg->revocation;

	if (!root)
		return 0;       /* an empty file: all defaults */
	if (root->type == YAML_SCALAR_NODE && !root->data.scalar.length)
		return 0;
	if (each_pair(ld, root, "the top level", top_entry, NULL))
		return -1;
	if (r->backoff_max_ms < r->backoff_base_ms)
		return config_fail(ld, NULL, "revocation: backoff_max is smaller than backoff_base");
	if (r->default_issuer && !config_issuer(ld->cfg, r->default_issuer))
		return config_fail(ld, NULL, "revocation: default_issuer '%s' is not among the issuers",
			    r->default_issuer);
	return 0;
}

static int load_text(const char *text, size_t len, const char *name, int flags,
		     struct tw_config **out, char *err, size_t errsz)
{
	struct config_loader ld = { .name = name, .err = err, .errsz = errsz, .flags = flags };
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
	if (rc && ld.nerrors)
		snprintf(err, errsz, "%s", ld.all);
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
	return load_text(yaml, strlen(yaml), name, 0, out, err, errsz);
}

int config_load(const char *path, struct tw_config **out, char *err, size_t errsz)
{
	return config_load_flags(path, 0, out, err, errsz);
}

int config_load_flags(const char *path, int flags, struct tw_config **out, char *err, size_t errsz)
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
	rc = load_text(text, len, path, flags, out, err, errsz);
	free(text);
	return rc;
}

/* ---- config show ------------------------------------------------------ */

static void show_source(const struct tw_config *c, const char *key, FILE *f)
{
	const char *flag = NULL;
	int line = config_origin_of(c, key, &flag);

	if (line > 0)
		fprintf(f, "  # %s:%d\n", c->path ? c->path : "?", line);
	else if (line < 0)
		fprintf(f, "  # flag --%s\n", flag ? flag : "?");
	else
		fprintf(f, "  # default\n");
}

static void show_list(char **v, FILE *f)
{
	fputc('[', f);
	for (size_t i = 0; v && v[i]; i++)
		fprintf(f, "%s%s", i ? ", " : "", v[i]);
	fputc(']', f);
}

static void show_top(const struct tw_config *c, const struct key_def *d, FILE *f)
{
	const char *base = (const char *)c;

	fprintf(f, "%s: ", d->name);
	switch (d->kind) {
	case K_STR: {
		const char *s = *(char *const *)(base + d->off);

		fputs(s ? s : "null", f);
		break;
	}
	case K_LIST:
		show_list(*(char **const *)(base + d->off), f);
		break;
	case K_SIZE:
	case K_NUM:
		fprintf(f, "%llu", (unsigned long long)*(const uint64_t *)(base + d->off));
		break;
	case K_BOOL:
		fputs(*(const bool *)(base + d->off) ? "true" : "false", f);
		break;
	case K_SECTION:
		break;
	}
	show_source(c, d->name, f);
}

static void show_revocation(const struct tw_config *c, FILE *f)
{
	const struct tw_revocation_cfg *r = &c->revocation;
	char key[64];
	struct { const char *name; char val[128]; } v[] = {
		{ "workers", "" }, { "backoff_base", "" }, { "backoff_max", "" },
		{ "retry_after_max", "" }, { "synchronous", "" }, { "key_file", "" },
		{ "default_issuer", "" },
	};

	snprintf(v[0].val, sizeof(v[0].val), "%u", r->workers);
	snprintf(v[1].val, sizeof(v[1].val), "%ums", r->backoff_base_ms);
	snprintf(v[2].val, sizeof(v[2].val), "%ums", r->backoff_max_ms);
	snprintf(v[3].val, sizeof(v[3].val), "%ums", r->retry_after_max_ms);
	snprintf(v[4].val, sizeof(v[4].val), "%s", r->sync_full ? "full" : "normal");
	snprintf(v[5].val, sizeof(v[5].val), "%s", r->key_file ? r->key_file : "null");
	snprintf(v[6].val, sizeof(v[6].val), "%s", r->default_issuer ? r->default_issuer : "null");
	fputs("revocation:\n", f);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		snprintf(key, sizeof(key), "revocation.%s", v[i].name);
		fprintf(f, "  %s: %s", v[i].name, v[i].val);
		show_source(c, key, f);
	}
}

void config_show(const struct tw_config *c, FILE *f)
{
	char key[300];

	fprintf(f, "# effective configuration; file: %s\n", c->path ? c->path : "none (defaults)");
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (keys[i].kind != K_SECTION)
			show_top(c, &keys[i], f);
	fputs("policy:\n", f);
	for (int i = 0; i < VC__COUNT; i++) {
		snprintf(key, sizeof(key), "policy.%s", class_names[i]);
		fprintf(f, "  %s: %s", class_names[i], c->policy[i] == POLICY_REVOKE ? "revoke" : "alert");
		show_source(c, key, f);
	}
	show_revocation(c, f);
	fputs(c->nissuers ? "issuers:\n" : "issuers: {}  # default\n", f);
	/* names, types and where they point; never a secret */
	for (size_t i = 0; i < c->nissuers; i++) {
		const struct tw_issuer *is = &c->issuers[i];
		const char *where = is->revocation_endpoint ? is->revocation_endpoint
				    : is->revocation_list ? is->revocation_list
				    : is->url ? is->url : is->argv ? is->argv[0] : "";

		snprintf(key, sizeof(key), "issuers.%s", is->name);
		fprintf(f, "  %s: {type: %s%s%s}", is->name, issuer_type_name(is->type),
			*where ? ", at: " : "", where);
		if (config_origin_of(c, key, NULL))
			show_source(c, key, f);
		else
			fputs("  # built in\n", f);
	}
	for (size_t i = 0; i < nsections; i++)
		fprintf(f, "%s: %s  # %s\n", sections[i].name, c->sections[i] ? "{...}" : "null",
			c->sections[i] ? "file" : "default");
}

/* The keys and their flags, for tests that CONFIG.md names each. */
size_t config_keys(const char **names, const char **flags, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]) && n < max; i++, n++) {
		names[n] = keys[i].name;
		flags[n] = keys[i].flag;
	}
	return n;
}
