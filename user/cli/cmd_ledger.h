/* Pieces shared by `tokenward mint` and `tokenward ledger`. */
#ifndef TW_CMD_LEDGER_H
#define TW_CMD_LEDGER_H

#include <stdint.h>
#include "ledger/ledger.h"
#include "revoke/revoke.h"

#define CLI_AUD_MAX 32

/* What both commands accept about a token's promise. */
struct cli_spec {
	const char *ledger;
	const char *task, *scope, *subject, *issuer;
	const char *aud[CLI_AUD_MAX];
	int naud;
	int64_t ttl;       /* 0: not given */
	int64_t exp;       /* 0: not given */
	enum ledger_delegate dkind;
	const char *delegate_arg;
	int inherit;
};

/*
 * Refuse a token on the command line: argv is readable by every process
 * on the host (/proc/PID/cmdline). Looks at every argument and every
 * "--flag=value" for a tokenward token or a JWT. Returns EXIT_USAGE after
 * an error that does not quote the argument, or 0.
 */
int cli_refuse_token_argv(const char *cmd, int argc, char **argv);

/*
 * Parse the options of mint and register. allowed lists the short codes
 * that apply to this command. Returns -1 to go on, else the exit status
 * (0 after --help, EXIT_USAGE after an error).
 */
int cli_parse_spec(const char *cmd, int argc, char **argv, const char *allowed, const char *help,
		   struct cli_spec *s, int *no_seal, const char **seal_key);

/* After the ledger is open, before anything is added: refuse a --task,
 * --scope, --subject or --issuer that holds a token the ledger knows
 * (an opaque token no rule describes). 0 or EXIT_USAGE. */
int cli_refuse_known_values(const char *cmd, struct ledger *l, const struct cli_spec *s);

/* "3600", "90s", "15m", "2h", "1d": > 0 and at most 10 years. */
int cli_parse_ttl(const char *s, int64_t *out);
/* Unix seconds or RFC 3339 UTC ("2026-01-02T03:04:05Z"). */
int cli_parse_time(const char *s, int64_t *out);

/* Check the delegate and fill t's delegate fields (exe resolved with
 * realpath, cgroup made relative to the cgroup2 root and its id read,
 * pid's start time read). Returns 0 or EXIT_USAGE after an error. */
int cli_fill_delegate(const char *cmd, const struct cli_spec *s, struct ledger_token *t);

/* Check every --aud and store canonical forms in t. 0 or EXIT_USAGE. */
int cli_fill_audience(const char *cmd, const char *const *aud, int naud, struct ledger_token *t);

/* Free what cli_fill_* allocated in t. */
void cli_token_release(struct ledger_token *t);

/* $SUDO_USER, else the login name of the real uid. */
const char *cli_default_subject(void);

/* Print "tokenward CMD: msg" for a ledger failure and return the exit
 * status for it (2: locked, corrupt, unreadable). */
int cli_ledger_error(const char *cmd, const char *msg);

/* ---- revocation outcomes (cmd_deliver.c) ---- */

#define CLI_NOT_DRAINED (-100000) /* another process handed the request over */

/* One token whose revocation a command asked for, and what became of it. */
struct cli_outcome {
	char id[LEDGER_ID_LEN + 1];
	char sha[65];
	char *issuer;
	int submit;                 /* revoker_submit() result, or CLI_NOT_DRAINED */
	struct revoke_job_info info;
};

struct cli_outcomes {
	struct cli_outcome *v;
	size_t n, cap;
};

/* Add a token (once). 0 or -ENOMEM. */
int cli_outcomes_add(struct cli_outcomes *o, const char *id, const char *issuer);
void cli_outcomes_free(struct cli_outcomes *o);
/* A ledger_revoke_hook_fn collecting into the cli_outcomes at ctx. */
void cli_outcomes_hook(void *ctx, int64_t seq, const char *token_id, const char *issuer, const char *reason);

/*
 * Hand the ledger's pending revocations to a revoker started here with
 * the config at config_path, wait (bounded) for the issuers, and print one
 * line per token in o: revoked (the issuer confirmed), or NOT (YET)
 * REVOKED and why. Returns 0 when every token was confirmed (or the
 * policy is alert-only), else 1 after a warning on stderr.
 */
int cli_deliver(const char *cmd, struct ledger *l, const char *path, const char *config_path,
		struct cli_outcomes *o);

#endif
