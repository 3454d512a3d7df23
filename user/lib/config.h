/*
 * tokenward's configuration file (YAML, libyaml). The file is optional:
 * without it the embedded defaults apply. Every key is checked; a
 * malformed file or an unknown key is an error naming the file and line.
 *
 *   state_dir: /var/lib/tokenward
 *   ledger: /var/lib/tokenward/ledger.db
 *   rules_dirs: [/etc/tokenward/rules.d]
 *   ringbuf_size: 16M            # every key: docs/CONFIG.md
 *   capture_size: 4M
 *   policy:                      # per verdict class: revoke | alert
 *     file_write: revoke
 *     unmanaged: alert
 *   revocation:
 *     workers: 2
 *     backoff_base: 250ms
 *     backoff_max: 60s
 *     retry_after_max: 1h
 *     synchronous: normal        # normal | full (fsync every job)
 *     key_file: /var/lib/tokenward/revoke.key
 *     default_issuer: corp
 *   issuers:
 *     corp:
 *       type: rfc7009
 *       revocation_endpoint: https://idp.example/oauth2/revoke
 *       client_id: tokenward
 *       client_secret_file: /etc/tokenward/corp.secret   # mode 0600
 *       auth_method: client_secret_basic                 # or client_secret_post
 *       token_type_hint: access_token
 *       timeout: 5s
 *     local:
 *       type: builtin
 *       revocation_list: /var/lib/tokenward/revoked.sha256
 *     hook:
 *       type: command
 *       command: [/usr/local/bin/revoke-hook, --site, eu]
 *       pass_token: false       # true: the raw token is put in the stdin JSON
 *       timeout: 10s
 *     chat:
 *       type: webhook
 *       url: https://hooks.example/tokenward
 *       timeout: 5s
 *   retention:                   # the event store, STATE_DIR/events.db (docs/REPORTS.md)
 *     max_age: 30d               # s, m, h, d, w; 0 keeps everything
 *     max_size: 256M             # oldest rows deleted beyond this; 0 no bound
 *     parent_depth: 8            # ancestors kept with each sighting (0..64)
 */
#ifndef TW_CONFIG_H
#define TW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_DEFAULT_PATH "/etc/tokenward/tokenward.yaml"
#define CONFIG_DEFAULT_STATE_DIR "/var/lib/tokenward"
#define CONFIG_ENV "TOKENWARD_CONFIG"

/* Verdict classes as the policy names them (user/verdict/correlate.h has the
 * correlation engine's own enum; the names are the same strings). */
enum policy_class {
	VC_FILE_WRITE,
	VC_EXEC_ENV,
	VC_EXEC_ARGV,
	VC_NET_DEST,
	VC_FOREIGN_PROCESS,
	VC_AFTER_TASK,
	VC_EXPIRED_USE,
	VC_TASK_DONE,   /* the task completed: its tokens are revoked */
	VC_UNMANAGED,   /* a token not in the ledger: nothing to revoke */
	VC__COUNT
};

enum policy_action { POLICY_ALERT = 0, POLICY_REVOKE = 1 };

enum issuer_type { ISSUER_RFC7009, ISSUER_BUILTIN, ISSUER_COMMAND, ISSUER_WEBHOOK };

enum issuer_auth { AUTH_CLIENT_SECRET_BASIC, AUTH_CLIENT_SECRET_POST };

struct tw_issuer {
	char *name;
	enum issuer_type type;
	unsigned timeout_ms;
	int line;                   /* where it was defined, for messages */
	/* rfc7009 */
	char *revocation_endpoint;
	char *client_id;
	char *client_secret_file;
	char *client_secret;        /* read from the file at load; memory only */
	size_t client_secret_len;
	enum issuer_auth auth;
	char *token_type_hint;      /* NULL: none sent */
	/* builtin */
	char *revocation_list;
	/* command: argv[0] is the program; NULL-terminated */
	char **argv;
	bool pass_token;
	/* webhook */
	char *url;
};

struct tw_revocation_cfg {
	unsigned workers;
	unsigned backoff_base_ms;
	unsigned backoff_max_ms;
	unsigned retry_after_max_ms;
	bool sync_full;
	char *key_file;             /* NULL: STATE_DIR/revoke.key */
	char *default_issuer;       /* NULL: the only issuer, if exactly one */
};

/* Where a value came from, for `config show`: line 0 is the default,
 * line > 0 the file's line, line -1 a flag (named). */
struct config_origin {
	char *key;                  /* "poll_ms", "policy.file_write", "issuers.corp" */
	int line;
	const char *flag;
};

#define CONFIG_SECTIONS_MAX 8

/* The event store's retention (section "retention"). */
struct tw_retention_cfg {
	uint64_t max_age_s;
	uint64_t max_bytes;
	unsigned parent_depth;
};

struct tw_config {
	char *path;                 /* file loaded; NULL when defaults only */
	char *state_dir;
	char *ledger_path;
	char **rules_dirs;          /* NULL-terminated; never NULL */
	char **events;              /* --events paths, NULL-terminated; empty: the default pair */
	char *cgroup;               /* watch only this cgroup; NULL: all */
	uint64_t ringbuf_size;      /* power of two, 4K..2G */
	uint64_t capture_size;      /* 1..16M (TW_CAP_LIMIT): content bytes captured per write/send */
	uint64_t wakeup_bytes;
	uint64_t poll_ms;
	uint64_t stream_tail;
	uint64_t file_tail_ms;
	uint64_t sock_batch_ms;
	uint64_t events_max_size;   /* rotate event files past this; 0: never */
	uint64_t events_keep;       /* rotated files kept, 1..100 */
	uint64_t flood_cap;         /* distinct unmanaged secrets of one rule listed per
				     * capture, the rest counted (detector_set_flood_cap);
				     * 0: list every one */
	bool file_tail, sock_batch, tls, capture_pipes, path_cache, sweep, trace_io;
	struct config_origin *origins;
	size_t norigins;
	void *sections[CONFIG_SECTIONS_MAX]; /* registered sections' parsed values */
	enum policy_action policy[VC__COUNT];
	struct tw_revocation_cfg revocation;
	struct tw_retention_cfg retention;
	struct tw_issuer *issuers;
	size_t nissuers;
	struct outputs_cfg *outputs; /* metrics: and outputs: (output/outputs_config.h); NULL: none */
};

/*
 * Load the configuration. path NULL: CONFIG_DEFAULT_PATH if it exists,
 * else the embedded defaults. An explicit path must exist. On error
 * returns -1 with "FILE:LINE: what" in err; *out is untouched.
 */
/* detect.h's DETECT_FLOOD_CAP_DEFAULT (the pipeline checks they agree) */
#define CONFIG_FLOOD_CAP_DEFAULT 1000
#define CONFIG_FLOOD_CAP_MAX 100000000

int config_load(const char *path, struct tw_config **out, char *err, size_t errsz);

/* The same, with flags. CONFIG_NO_SECRETS: issuers' secret files are not
 * read (a command that needs only the ledger, the state directory or the
 * rules directories); nothing may revoke with such a config. */
#define CONFIG_NO_SECRETS 1
int config_load_flags(const char *path, int flags, struct tw_config **out, char *err, size_t errsz);

/* The same from a string; name is used in messages. Secret files named
 * in it are read and checked as for a file. */
int config_load_string(const char *yaml, const char *name, struct tw_config **out,
		       char *err, size_t errsz);

/* Embedded defaults only. */
struct tw_config *config_defaults(void);

void config_free(struct tw_config *cfg);

/* Add the built-in issuer (tokens from `tokenward mint`) under name when
 * the config has no issuer of that name: revoking marks the ledger and
 * appends the hash to list_path. */
int config_ensure_builtin(struct tw_config *c, const char *name, const char *list_path);

const struct tw_issuer *config_issuer(const struct tw_config *cfg, const char *name);

/* The issuer used when a request names none. NULL if ambiguous. */
const struct tw_issuer *config_default_issuer(const struct tw_config *cfg);

const char *verdict_class_name(enum policy_class vc);
/* Returns -1 for an unknown name. */
int verdict_class_parse(const char *name);

const char *issuer_type_name(enum issuer_type t);

/* "250ms", "5s", "2m", "1h", or a bare number of seconds. */
int config_parse_duration_ms(const char *s, unsigned *out_ms);

/* ---- keys, sources, suggestions -------------------------------------- */

/* The value named key was set by flag (e.g. "--poll-ms"): `config show`
 * says so. */
int config_note_flag(struct tw_config *c, const char *key, const char *flag);
/* Where key's value came from: 0 default, > 0 file line, -1 flag. */
int config_origin_of(const struct tw_config *c, const char *key, const char **flag);

/* The closest of cands (NULL-terminated) to word, if close enough to be
 * a typo of it; else NULL. */
const char *config_suggest(const char *word, const char *const *cands);

/* Print the effective config as YAML, each value with its source. */
void config_show(const struct tw_config *c, FILE *f);
/* The top-level keys and the flag that overrides each (NULL: none). */
size_t config_keys(const char **names, const char **flags, size_t max);

/*
 * A top-level section another module parses (metrics:, outputs:,
 * retention:): registered before the config is loaded. parse gets the
 * section's node and stores what it made in *out (freed by free_fn);
 * errors through config_fail(), which names the file and line. A section
 * nobody registered is refused, not ignored.
 */
struct config_loader;
struct yaml_node_s;
typedef int (*config_section_fn)(struct config_loader *ld, struct yaml_node_s *v, void **out);
int config_register_section(const char *name, config_section_fn parse, void (*free_fn)(void *));
int config_fail(struct config_loader *ld, struct yaml_node_s *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
struct yaml_node_s *config_node(struct config_loader *ld, int id);
/* The parsed value of a registered section; NULL when absent. */
void *config_section(const struct tw_config *c, const char *name);

#endif
