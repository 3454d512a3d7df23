/* Subcommands. Each returns the process exit status: 0 ok, 1 findings or
 * failure of the work itself, 2 usage or environment error. */
#ifndef TW_CMD_H
#define TW_CMD_H

#define EXIT_USAGE 2

int cmd_run(int argc, char **argv);
int cmd_mint(int argc, char **argv);
int cmd_ledger(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_rules(int argc, char **argv);
int cmd_revoke_queue(int argc, char **argv);
int cmd_report(int argc, char **argv);

/* Print "tokenward CMD: msg" and a hint to stderr; returns EXIT_USAGE. */
int cmd_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
