/*
 * `tokenward mint`: the built-in issuer. The token goes to stdout once,
 * alone on its line, and only after its hash and promise are committed
 * to the ledger: a token printed but not recorded would be unmanaged
 * from its first use.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cli/cmd.h"
#include "cli/cmd_ledger.h"
#include "ledger/ledger.h"
#include "detect/redact.h"
#include "ledger/token.h"
#include "lib/sha256.h"

#define MINT_DEFAULT_TTL 900

static const char mint_help[] =
	"usage: tokenward mint --task ID --aud A [--aud A...] [OPTIONS]\n\n"
	"Issue a delegation token for one task. The token is printed once on\n"
	"standard output, alone on its line; the ledger keeps only its SHA-256\n"
	"and what it was issued for. Its id goes to standard error.\n\n"
	"  --task ID              task the token serves (required)\n"
	"  --aud A                audience (required, repeatable): URL, host:port,\n"
	"                         IP or CIDR[:port], [IPv6]:port, unix:/path\n"
	"  --scope S              scope\n"
	"  --ttl SEC              life (90, 15m, 2h, 1d; default 900 seconds)\n"
	"  --subject NAME         on whose behalf (default: $SUDO_USER or your login)\n"
	"  --delegate-exe PATH    only this executable may hold and use it\n"
	"  --delegate-cgroup PATH only processes in this cgroup (v2)\n"
	"  --delegate-pid N       only this process and its descendants\n"
	"                         (no delegate: any process; audience and life still apply)\n"
	"  --inherit              it may pass to child processes on exec\n"
	"  --ledger PATH          ledger (default $" LEDGER_ENV ", else the config's, else " LEDGER_DEFAULT_PATH ")\n"
	"  -h, --help             this text\n";

int cmd_mint(int argc, char **argv)
{
	const char *cmd = "mint", *unused_key = NULL;
	struct ledger_token t = { 0 };
	struct ledger *l = NULL;
	struct cli_spec s;
	char tok[TOKEN_LEN + 1], err[512];
	int64_t now = time(NULL);
	int unused_seal = 0, r, rc = EXIT_USAGE;

	if ((r = cli_refuse_token_argv(cmd, argc, argv)))
		return r;
	if ((r = cli_parse_spec(cmd, argc, argv, "taSTuXCPIL", mint_help, &s, &unused_seal, &unused_key)) >= 0)
		return r;
	if (!s.task)
		return cmd_usage_error(cmd, "--task is required: a delegation token serves one task");
	if (s.naud == 0)
		return cmd_usage_error(cmd, "--aud is required: where may the token be sent?");
	if ((r = cli_fill_audience(cmd, s.aud, s.naud, &t)) || (r = cli_fill_delegate(cmd, &s, &t)))
		goto out;

	if ((r = token_mint(tok))) {
		fprintf(stderr, "tokenward %s: cannot read the kernel CSPRNG: %s\n", cmd, strerror(-r));
		goto out;
	}
	t.format = LEDGER_FMT_TWD;
	t.length = TOKEN_LEN;
	sha256_digest(tok, TOKEN_LEN, t.sha);
	sha256_to_hex(t.sha, t.sha256);
	redact_short(tok, TOKEN_LEN, t.redacted, sizeof(t.redacted));
	t.issuer = LEDGER_BUILTIN_ISSUER;
	t.task = (char *)s.task;
	t.scope = (char *)s.scope;
	t.subject = (char *)(s.subject ? s.subject : cli_default_subject());
	t.issued_at = now;
	t.expires_at = now + (s.ttl ? s.ttl : MINT_DEFAULT_TTL);
	t.status = LEDGER_ACTIVE;

	if ((r = ledger_open(s.ledger, LEDGER_OPEN_CREATE, &l, err, sizeof(err)))) {
		rc = cli_ledger_error(cmd, err);
		goto out;
	}
	if ((rc = cli_refuse_known_values(cmd, l, &s)))
		goto out;
	rc = EXIT_USAGE;
	if ((r = ledger_add(l, &t, NULL, 0))) {
		rc = cli_ledger_error(cmd, ledger_errmsg(l));
		goto out;
	}
	/* One write of the whole line, then a flush we check: a caller
	 * reading a pipe gets the token whole or sees the failure. */
	if (printf("%s\n", tok) != TOKEN_LEN + 1 || fflush(stdout)) {
		fprintf(stderr, "tokenward %s: cannot write the token to standard output; revoking %s\n",
			cmd, t.id);
		ledger_revoke(l, t.id, "mint_output_failed", time(NULL) * 1000000000ll);
		rc = 1;
		goto out;
	}
	/* The task passed freetext_holds_secret(): shown as `ledger list` shows it. */
	fprintf(stderr, "tokenward %s: %s (%s, sha256:%.12s) task %s, expires in %llds\n", cmd, t.id,
		t.redacted, t.sha256, s.task, (long long)(t.expires_at - now));
	rc = 0;
out:
	explicit_bzero(tok, sizeof(tok));
	t.issuer = t.task = t.scope = t.subject = NULL;
	cli_token_release(&t);
	ledger_close(l);
	return rc;
}
