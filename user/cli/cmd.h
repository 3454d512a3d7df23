/* Subcommands. Each returns the process exit status: 0 ok, 1 findings or
 * failure of the work itself, 2 usage or environment error. */
#ifndef TW_CMD_H
#define TW_CMD_H

#include <stddef.h>
#include <stdio.h>
#include <cjson/cJSON.h>

#define EXIT_USAGE 2

int cmd_run(int argc, char **argv);
int cmd_mint(int argc, char **argv);
int cmd_ledger(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_rules(int argc, char **argv);
int cmd_revoke_queue(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_config(int argc, char **argv);

/* The config every command reads (cmd_config.c): flag, else
 * $TOKENWARD_CONFIG, else the default file if present. */
struct tw_config;
const char *cmd_config_path(const char *flag);
/* config_load() of that; on error prints it and returns EXIT_USAGE. */
int cmd_load_config(const char *cmd, const char *path, struct tw_config **out, char *err, size_t errsz);
/* $TOKENWARD_LEDGER, else the config's ledger; NULL after printing why
 * the config did not load. */
const char *cmd_default_ledger(const char *cmd);
/* run's flags (argv[0] is a name) over the config: what run would use,
 * each flag noted as the source of its key. 0, or the exit code. */
int cmd_run_config(int argc, char **argv, struct tw_config **out);
/* The config's rules_dirs (NULL-terminated); NULL after printing why. */
char *const *cmd_default_rules_dirs(const char *cmd);
/* The config's state_dir; NULL after printing why the config did not load. */
const char *cmd_default_state_dir(const char *cmd);

/* Print "tokenward CMD: msg" and a hint to stderr; returns EXIT_USAGE. */
int cmd_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "tokenward CMD: msg" on stderr; the whole message is redacted, since
 * it may quote an argument, a path or a value read from a file. */
void cmd_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* An argument safe to echo in an error: redacted if it looks secret. */
const char *cmd_safe_arg(const char *arg, char *buf, size_t bufsz);

/* After getopt_long returned c ('?' or ':'; set opterr = 0 first):
 * the usage error for argv[optind - 1], redacted. EXIT_USAGE. */
int cmd_opt_error(const char *cmd, char **argv, int c);

/* "unexpected argument 'ARG'" (redacted) as a usage error. EXIT_USAGE. */
int cmd_extra_arg(const char *cmd, const char *arg);

/* o and a newline on f, indented when pretty. 0, or -1 out of memory. */
int cmd_print_json(FILE *f, const cJSON *o, int pretty);

#endif
