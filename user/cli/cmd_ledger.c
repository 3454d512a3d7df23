/*
 * `tokenward ledger register|list|show|complete|revoke`, and the option
 * checks `tokenward mint` shares. Every check runs before the ledger is
 * opened, so a usage error (exit 2) never leaves a trace in it.
 */
#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "cli/cmd.h"
#include "cli/cmd_ledger.h"
#include "ledger/jwt.h"
#include "lib/cgroup.h"
#include "lib/config.h"
#include "ledger/handoff.h"
#include "ledger/ledger.h"
#include "revoke/revoke.h"
#include "detect/opaque.h"
#include "detect/redact.h"
#include "ledger/seal.h"
#include "lib/sha256.h"
#include "ledger/token.h"
#include "lib/util.h"
#include "ledger/freetext.h"

#define STDIN_TOKEN_MAX (64 * 1024)
#define STDIN_SPACE_SLACK 64 /* trailing newline, CRLF or spaces after the token */

/* ---- shared checks ---------------------------------------------------- */

static int holds_token(const char *s)
{
	size_t n = strlen(s);
	const char *p;

	if (jwt_looks_like(s, n) || token_validate(s, n))
		return 1;
	for (p = s; (p = strstr(p, TOKEN_PREFIX)); p++)
		if ((size_t)(s + n - p) >= TOKEN_LEN && token_validate(p, TOKEN_LEN))
			return 1;
	/* "--flag=value" and "Bearer value" shapes */
	if ((p = strchr(s, '=')) && jwt_looks_like(p + 1, strlen(p + 1)))
		return 1;
	if ((p = strrchr(s, ' ')) && jwt_looks_like(p + 1, strlen(p + 1)))
		return 1;
	return 0;
}

int cli_refuse_token_argv(const char *cmd, int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (holds_token(argv[i]))
			return cmd_usage_error(cmd, "argument %d looks like a token; tokens are read from "
					       "standard input, never from the command line (every process "
					       "can read another's arguments)", i);
	return 0;
}

int cli_parse_ttl(const char *s, int64_t *out)
{
	char *end;
	long long v;
	int64_t mul = 1;

	if (!s || !*s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 0: case 's': break;
	case 'm': mul = 60; break;
	case 'h': mul = 3600; break;
	case 'd': mul = 86400; break;
	default: return -EINVAL;
	}
	if (*end && end[1])
		return -EINVAL;
	if (v <= 0 || v > 10ll * 366 * 86400 / mul)
		return -EINVAL;
	*out = v * mul;
	return 0;
}

int cli_parse_time(const char *s, int64_t *out)
{
	struct tm tm = { 0 };
	char *end;

	if (!s || !*s)
		return -EINVAL;
	if (strspn(s, "0123456789") == strlen(s)) {
		errno = 0;
		long long v = strtoll(s, &end, 10);
		if (errno || v <= 0)
			return -EINVAL;
		*out = v;
		return 0;
	}
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		return -EINVAL;
	if (*end == '.')
		for (end++; isdigit((unsigned char)*end); end++)
			;
	if (strcmp(end, "Z") && strcmp(end, "+00:00"))
		return -EINVAL;
	*out = timegm(&tm);
	return *out > 0 ? 0 : -EINVAL;
}

const char *cli_default_subject(void)
{
	const char *s = getenv("SUDO_USER");
	struct passwd *pw;

	if (s && *s)
		return s;
	pw = getpwuid(getuid());
	return pw ? pw->pw_name : "unknown";
}

/* Start of a process since boot in ns, from /proc/PID/stat field 22. */
static int pid_start_ns(uint32_t pid, uint64_t *out)
{
	char path[64], buf[1024], *p;
	unsigned long long ticks;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	if (!(f = fopen(path, "re")))
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* comm may hold spaces and parentheses: skip to the last ')'. */
	if (!(p = strrchr(buf, ')')))
		return -EINVAL;
	p += 2;
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -EINVAL;
		p++;
	}
	if (sscanf(p, "%llu", &ticks) != 1)
		return -EINVAL;
	*out = ticks * (1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK));
	return 0;
}

int cli_fill_delegate(const char *cmd, const struct cli_spec *s, struct ledger_token *t)
{
	char buf[PATH_MAX + 64], safe[128];
	struct stat st;

	t->delegate_kind = s->dkind;
	t->inherit = s->inherit;
	switch (s->dkind) {
	case LEDGER_DELEGATE_ANY:
		return 0;
	case LEDGER_DELEGATE_EXE:
		/* The sensors report the resolved path of the executable. */
		if (s->delegate_arg[0] != '/')
			return cmd_usage_error(cmd, "--delegate-exe needs an absolute path: '%s'",
					       cmd_safe_arg(s->delegate_arg, safe, sizeof(safe)));
		if (!realpath(s->delegate_arg, buf) || stat(buf, &st) || !S_ISREG(st.st_mode) ||
		    !(st.st_mode & 0111))
			return cmd_usage_error(cmd, "--delegate-exe '%s' is not an executable file",
					       cmd_safe_arg(s->delegate_arg, safe, sizeof(safe)));
		t->delegate = strdup(buf);
		return 0;
	case LEDGER_DELEGATE_CGROUP:
		/* relative to the cgroup2 mount, wherever it is (hybrid hosts:
		 * /sys/fs/cgroup/unified), as the sensors report it */
		if (cgroup_normalise(s->delegate_arg, cgroup_v2_root(), buf, sizeof(buf)))
			return cmd_usage_error(cmd, "--delegate-cgroup needs an absolute cgroup path without "
					       "'..' (/system.slice/x or %s/...): '%s'",
					       *cgroup_v2_root() ? cgroup_v2_root() : "/sys/fs/cgroup",
					       cmd_safe_arg(s->delegate_arg, safe, sizeof(safe)));
		t->delegate = strdup(buf);
		snprintf(buf, sizeof(buf), "%s%s", cgroup_v2_root(), t->delegate);
		/* A cgroup made later (a per-task scope) is matched by path. */
		if (*cgroup_v2_root() && !stat(buf, &st) && S_ISDIR(st.st_mode))
			t->delegate_cgroup_id = st.st_ino;
		return 0;
	case LEDGER_DELEGATE_PID: {
		char *end;
		unsigned long v;
		errno = 0;
		v = strtoul(s->delegate_arg, &end, 10);
		if (errno || *end || end == s->delegate_arg || v == 0 || v > INT_MAX)
			return cmd_usage_error(cmd, "--delegate-pid needs a process id: '%s'",
					       cmd_safe_arg(s->delegate_arg, safe, sizeof(safe)));
		t->delegate_pid = v;
		if (pid_start_ns(v, &t->delegate_start_ns))
			return cmd_usage_error(cmd, "--delegate-pid %lu: no such process", v);
		snprintf(buf, sizeof(buf), "%lu", v);
		t->delegate = strdup(buf);
		return 0;
	}
	}
	return cmd_usage_error(cmd, "bad delegate");
}

int cli_fill_audience(const char *cmd, const char *const *aud, int naud, struct ledger_token *t)
{
	char err[160], canon[AUDIENCE_STR_MAX], safe[128];
	struct audience a;

	t->audience = calloc(naud + 1, sizeof(char *));
	if (!t->audience)
		return cmd_usage_error(cmd, "out of memory");
	for (int i = 0; i < naud; i++) {
		if (audience_parse(aud[i], &a, err, sizeof(err)))
			return cmd_usage_error(cmd, "bad audience '%s': %s", cmd_safe_arg(aud[i], safe, sizeof(safe)), err);
		audience_format(&a, canon, sizeof(canon));
		t->audience[t->naudience++] = strdup(canon);
	}
	return 0;
}

void cli_token_release(struct ledger_token *t)
{
	free(t->delegate);
	for (size_t i = 0; i < t->naudience; i++)
		free(t->audience[i]);
	free(t->audience);
	t->delegate = NULL;
	t->audience = NULL;
	t->naudience = 0;
}

int cli_ledger_error(const char *cmd, const char *msg)
{
	cmd_error(cmd, "%s", msg);
	return EXIT_USAGE;
}

/* ---- register --------------------------------------------------------- */

/* A JWT's claims are stored and shown; one that holds a secret is kept
 * redacted. Not refused like a flag: the claims are the issuer's, and a
 * token that cannot be registered is unmanaged, which is worse. */
static int claims_redact(struct jwt_claims *jc)
{
	char **f[] = { &jc->iss, &jc->sub, &jc->jti, &jc->client_id, &jc->scope, &jc->actor,
		       &jc->actor_chain };

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		char *v;

		if (!*f[i])
			continue;
		if (!(v = freetext_safe(*f[i])))
			return -ENOMEM;
		free(*f[i]);
		*f[i] = v;
	}
	return 0;
}

static const char register_help[] =
	"usage: tokenward ledger register --issuer NAME [OPTIONS] < TOKEN\n\n"
	"Record an externally issued token. The token is read from standard input\n"
	"(never from the command line); only its SHA-256 and metadata are stored,\n"
	"plus, unless --no-seal, the token sealed with AES-256-GCM so that the\n"
	"issuer can be asked to revoke it later (RFC 7009 needs the token itself).\n"
	"A JWT's claims fill aud, exp, jti, sub, client_id, scope and act (RFC 8693);\n"
	"the signature is not verified. Flags override claims, except that the\n"
	"recorded expiry is never later than the JWT's exp.\n\n"
	"  --issuer NAME          issuer, as named in the revocation config (required)\n"
	"  --task ID              task the token serves\n"
	"  --aud A                audience (repeatable): URL, host:port, IP or CIDR[:port],\n"
	"                         unix:/path. Default: the JWT's aud claims\n"
	"  --exp TIME             expiry: unix seconds or RFC 3339 UTC\n"
	"  --ttl SEC              expiry as a duration (90, 15m, 2h, 1d)\n"
	"  --scope S              scope (default: the JWT's)\n"
	"  --subject NAME         on whose behalf (default: the JWT's sub)\n"
	"  --delegate-exe PATH    only this executable may hold and use it\n"
	"  --delegate-cgroup PATH only processes in this cgroup (v2)\n"
	"  --delegate-pid N       only this process and its descendants\n"
	"  --inherit              it may pass to child processes on exec\n"
	"  --no-seal              do not keep a sealed copy (no revocation at completion)\n"
	"  --seal-key PATH        seal key (default $" SEAL_KEY_ENV ", else seal.key beside the ledger)\n"
	"  --ledger PATH          ledger (default $" LEDGER_ENV ", else the config's, else " LEDGER_DEFAULT_PATH ")\n"
	"  -h, --help             this text\n";

/* The whole of stdin, trailing newline and spaces removed. */
static int read_stdin_token(char **out, size_t *n)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	ssize_t r;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len == cap) {
			/* room for the token and a trailing newline (CRLF, spaces) */
			if (cap >= STDIN_TOKEN_MAX + STDIN_SPACE_SLACK)
				goto too_big;
			cap = cap * 2 < STDIN_TOKEN_MAX ? cap * 2 : STDIN_TOKEN_MAX + STDIN_SPACE_SLACK;
			char *nb = realloc(buf, cap);
			if (!nb)
				goto too_big;
			buf = nb;
		}
		r = read(STDIN_FILENO, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			explicit_bzero(buf, len);
			free(buf);
			return -EIO;
		}
		if (r == 0)
			break;
		len += r;
	}
	while (len && isspace((unsigned char)buf[len - 1]))
		len--;
	if (len > STDIN_TOKEN_MAX)
		goto too_big;
	buf[len] = 0; /* len < cap: the loop grows before it reads */
	*out = buf;
	*n = len;
	return 0;
too_big:
	explicit_bzero(buf, len);
	free(buf);
	return -E2BIG;
}


/*
 * Values stored in the ledger and printed by list, show and every report
 * must not hold a secret. Such a value is refused (exit 2), not stored
 * redacted: the task is a key the user types again (`complete --task`,
 * `report --task`), which a masked copy would no longer match, and a
 * token on the command line has already leaked to every process on the
 * host (/proc/PID/cmdline), so the user must hear of it and rotate it.
 */
static const struct { const char *flag; size_t off; } stored_values[] = {
	{ "--task", offsetof(struct cli_spec, task) },
	{ "--scope", offsetof(struct cli_spec, scope) },
	{ "--subject", offsetof(struct cli_spec, subject) },
	{ "--issuer", offsetof(struct cli_spec, issuer) },
};

static const char *spec_value(const struct cli_spec *s, size_t i)
{
	return *(const char *const *)((const char *)s + stored_values[i].off);
}

static int refused(const char *cmd, const char *flag, const char *rule)
{
	return cmd_usage_error(cmd, "%s holds what looks like a secret (rule %s); it would be stored "
			       "and shown by list, show and reports. Refused; and the command line is "
			       "readable by every process: rotate that secret", flag, rule);
}

static int refuse_secret_values(const char *cmd, const struct cli_spec *s)
{
	const char *rule;

	for (size_t i = 0; i < sizeof(stored_values) / sizeof(stored_values[0]); i++) {
		const char *v = spec_value(s, i);

		if (v && freetext_holds_secret(v, strlen(v), &rule))
			return refused(cmd, stored_values[i].flag, rule);
	}
	for (int i = 0; i < s->naud; i++)
		if (freetext_holds_secret(s->aud[i], strlen(s->aud[i]), &rule))
			return refused(cmd, "--aud", rule);
	if (s->delegate_arg && freetext_holds_secret(s->delegate_arg, strlen(s->delegate_arg), &rule))
		return refused(cmd, "the delegate", rule);
	return 0;
}

/* 1 when one of s's words is a token the ledger holds: the whole value,
 * each space-separated word, each run of base64url characters. */
static int known_in_ledger(struct ledger *l, const char *v)
{
	const char *p = v;
	size_t n;

	for (int pass = 0; pass < 3; pass++) {
		for (p = v; *p; p += n ? n : 1) {
			unsigned char sha[32];
			struct ledger_token *t = NULL;
			int hit;

			n = pass == 0 ? strlen(p) : pass == 1 ? strcspn(p, " \t") :
			    strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
			if (n < 8)
				continue;
			sha256_digest(p, n, sha);
			hit = ledger_get_sha(l, sha, &t) == 0;
			ledger_token_free(t);
			if (hit)
				return 1;
		}
	}
	return 0;
}

int cli_refuse_known_values(const char *cmd, struct ledger *l, const struct cli_spec *s)
{
	for (size_t i = 0; i < sizeof(stored_values) / sizeof(stored_values[0]); i++) {
		const char *v = spec_value(s, i);

		if (v && known_in_ledger(l, v))
			return cmd_usage_error(cmd, "%s holds a token this ledger knows; refused (and the "
					       "command line is readable by every process: rotate it)",
					       stored_values[i].flag);
	}
	return 0;
}

/* Parse the options shared by mint and register into s. Returns -1 to go
 * on, or an exit status. */
static const struct option spec_opts[] = {
	{ "task", required_argument, NULL, 't' },
	{ "aud", required_argument, NULL, 'a' },
	{ "scope", required_argument, NULL, 'S' },
	{ "ttl", required_argument, NULL, 'T' },
	{ "exp", required_argument, NULL, 'E' },
	{ "subject", required_argument, NULL, 'u' },
	{ "issuer", required_argument, NULL, 'i' },
	{ "delegate-exe", required_argument, NULL, 'X' },
	{ "delegate-cgroup", required_argument, NULL, 'C' },
	{ "delegate-pid", required_argument, NULL, 'P' },
	{ "inherit", no_argument, NULL, 'I' },
	{ "ledger", required_argument, NULL, 'L' },
	{ "no-seal", no_argument, NULL, 'N' },
	{ "seal-key", required_argument, NULL, 'K' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

int cli_parse_spec(const char *cmd, int argc, char **argv, const char *allowed, const char *help,
		   struct cli_spec *s, int *no_seal, const char **seal_key)
{
	char safe[128];
	int c;

	memset(s, 0, sizeof(*s));
	s->ledger = NULL;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", spec_opts, NULL)) != -1) {
		if (c != 'h' && c != '?' && c != ':' && !strchr(allowed, c))
			return cmd_usage_error(cmd, "option '%s' does not apply here",
					       cmd_safe_arg(argv[optind - 1], safe, sizeof(safe)));
		switch (c) {
		case 't': s->task = optarg; break;
		case 'a':
			if (s->naud == CLI_AUD_MAX)
				return cmd_usage_error(cmd, "at most %d --aud", CLI_AUD_MAX);
			s->aud[s->naud++] = optarg;
			break;
		case 'S': s->scope = optarg; break;
		case 'T':
			if (cli_parse_ttl(optarg, &s->ttl))
				return cmd_usage_error(cmd, "--ttl must be a positive duration (90, 15m, 2h, 1d): '%s'",
						       cmd_safe_arg(optarg, safe, sizeof(safe)));
			break;
		case 'E':
			if (cli_parse_time(optarg, &s->exp))
				return cmd_usage_error(cmd, "--exp must be unix seconds or RFC 3339 UTC: '%s'",
						       cmd_safe_arg(optarg, safe, sizeof(safe)));
			break;
		case 'u': s->subject = optarg; break;
		case 'i': s->issuer = optarg; break;
		case 'X': case 'C': case 'P':
			if (s->dkind)
				return cmd_usage_error(cmd, "give one of --delegate-exe, --delegate-cgroup, --delegate-pid");
			s->dkind = c == 'X' ? LEDGER_DELEGATE_EXE : c == 'C' ? LEDGER_DELEGATE_CGROUP : LEDGER_DELEGATE_PID;
			s->delegate_arg = optarg;
			break;
		case 'I': s->inherit = 1; break;
		case 'L':
			if (!*optarg)
				return cmd_usage_error(cmd, "--ledger needs a path");
			s->ledger = optarg;
			break;
		case 'N': *no_seal = 1; break;
		case 'K': *seal_key = optarg; break;
		case 'h': fputs(help, stdout); return 0;
		default:
			return cmd_opt_error(cmd, argv, c);
		}
	}
	if (optind < argc)
		return cmd_extra_arg(cmd, argv[optind]);
	if (!s->ledger && !(s->ledger = cmd_default_ledger(cmd)))
		return EXIT_USAGE;
	if (s->ttl && s->exp)
		return cmd_usage_error(cmd, "give --ttl or --exp, not both");
	if (s->task && !*s->task)
		return cmd_usage_error(cmd, "--task must not be empty");
	if ((c = refuse_secret_values(cmd, s)))
		return c;
	return -1;
}

/* The token from standard input: one printable word, never from argv. */
static int register_read_token(const char *cmd, char **tok, size_t *n)
{
	int r;

	if (isatty(STDIN_FILENO))
		return cmd_usage_error(cmd, "pipe the token on standard input");
	if ((r = read_stdin_token(tok, n)))
		return cmd_usage_error(cmd, r == -E2BIG ? "standard input is larger than a token (64 KiB)"
							: "cannot read standard input");
	if (*n == 0)
		return cmd_usage_error(cmd, "standard input is empty: pipe the token in");
	for (size_t i = 0; i < *n; i++)
		if ((unsigned char)(*tok)[i] <= ' ' || (unsigned char)(*tok)[i] >= 0x7f)
			return cmd_usage_error(cmd, "standard input must hold exactly one token "
					       "(printable, no spaces)");
	return 0;
}

/* twd_, JWT (its claims parsed and redacted) or opaque, which must be
 * findable: a registered token that is never seen is worse than a refusal. */
static int register_classify(const char *cmd, const char *tok, size_t n, struct ledger_token *t,
			     struct jwt_claims *jc)
{
	char err[512];

	if (token_validate(tok, n)) {
		t->format = LEDGER_FMT_TWD;
	} else if (jwt_looks_like(tok, n)) {
		t->format = LEDGER_FMT_JWT;
		if (jwt_parse(tok, n, jc, err, sizeof(err)))
			return cmd_usage_error(cmd, "%s", err);
		if (claims_redact(jc))
			return cmd_usage_error(cmd, "out of memory");
	} else {
		t->format = LEDGER_FMT_OPAQUE;
		if (detect_opaque_check(tok, n, err, sizeof(err)))
			return cmd_usage_error(cmd, "standard input is not a token tokenward can find "
					       "(not a twd_ token or a JWT, and %s)", err);
	}
	return 0;
}

/* Audience: the flags, else the JWT's aud claims that name a destination. */
static int register_audience(const char *cmd, struct cli_spec *s, const struct jwt_claims *jc,
			     struct ledger_token *t)
{
	char err[512];

	if (s->naud == 0) {
		for (size_t i = 0; i < jc->naud && s->naud < CLI_AUD_MAX; i++) {
			struct audience a;
			if (!freetext_holds_secret(jc->aud[i], strlen(jc->aud[i]), NULL) &&
			    !audience_parse(jc->aud[i], &a, err, sizeof(err)))
				s->aud[s->naud++] = jc->aud[i];
			else
				fprintf(stderr, "tokenward %s: JWT aud '%s' is not a network audience; ignored\n",
					cmd, cmd_safe_arg(jc->aud[i], err, sizeof(err)));
		}
		if (s->naud == 0)
			return cmd_usage_error(cmd, "no audience: give --aud%s",
					       jc->naud ? " (no JWT aud claim names a destination)" : "");
	}
	return cli_fill_audience(cmd, s->aud, s->naud, t) ? EXIT_USAGE : 0;
}

/* Expiry: --exp or --ttl, and never later than the JWT's own exp. */
static int register_expiry(const char *cmd, const struct cli_spec *s, const struct jwt_claims *jc,
			   struct ledger_token *t, int64_t now)
{
	char err[512];

	t->expires_at = s->exp ? s->exp : s->ttl ? now + s->ttl : 0;
	if (jc->exp && (!t->expires_at || jc->exp < t->expires_at))
		t->expires_at = jc->exp;
	if (!t->expires_at)
		return cmd_usage_error(cmd, "no expiry: give --exp or --ttl");
	if (token_check_expiry(t->expires_at, now, err, sizeof(err)))
		return cmd_usage_error(cmd, "%s%s", err, jc->exp && t->expires_at == jc->exp && t->expires_at > now
				       ? " (the JWT's exp claim): give a nearer --exp or --ttl" : "");
	return 0;
}

/* The record's fields, borrowed from the spec and the claims (released
 * with NULLs before cli_token_release), and the token's hash. */
static void register_fill(struct ledger_token *t, const struct cli_spec *s, const struct jwt_claims *jc,
			  const char *tok, size_t n, int64_t now)
{
	t->issuer = (char *)s->issuer;
	t->task = (char *)s->task;
	t->scope = (char *)(s->scope ? s->scope : jc->scope);
	t->subject = (char *)(s->subject ? s->subject : jc->sub);
	t->jti = jc->jti;
	t->client_id = jc->client_id;
	t->actor = jc->actor;
	t->issued_at = jc->iat && jc->iat <= now ? jc->iat : now;
	t->status = LEDGER_ACTIVE;
	t->length = n;
	sha256_digest(tok, n, t->sha);
	sha256_to_hex(t->sha, t->sha256);
	redact_short(tok, n, t->redacted, sizeof(t->redacted));
}

/* The sealed copy revocation needs, under the ledger's seal key. */
static int register_seal(const char *cmd, const char *ledger, const char *seal_key_arg, const char *tok,
			 size_t n, const struct ledger_token *t, unsigned char **sealed, size_t *sealed_len)
{
	char err[512], keypath[4096];
	struct seal_key key;
	int r;

	if (seal_key_arg)
		snprintf(keypath, sizeof(keypath), "%s", seal_key_arg);
	else
		seal_key_default_path(ledger, keypath, sizeof(keypath));
	if (seal_key_load(keypath, 1, &key, err, sizeof(err)))
		return cli_ledger_error(cmd, err);
	*sealed = malloc(n + SEAL_OVERHEAD);
	r = *sealed ? seal_encrypt(&key, t->sha256, 64, tok, n, *sealed, sealed_len) : -ENOMEM;
	seal_key_wipe(&key);
	return r ? cli_ledger_error(cmd, "cannot seal the token") : 0;
}

/* The JWT's delegation claims, kept in the token's history. */
static void register_claims_history(struct ledger *l, const struct ledger_token *t, const struct jwt_claims *jc)
{
	cJSON *d;
	char *dj;

	if (!jc->actor_chain && !jc->at_jwt)
		return;
	d = cJSON_CreateObject();
	if (jc->actor_chain)
		cJSON_AddStringToObject(d, "act_chain", jc->actor_chain);
	cJSON_AddBoolToObject(d, "at_jwt", jc->at_jwt);
	if (jc->iss)
		cJSON_AddStringToObject(d, "iss", jc->iss);
	dj = cJSON_PrintUnformatted(d);
	cJSON_Delete(d);
	ledger_history_add(l, t->id, "claims", dj);
	free(dj);
}

/* The record written: 0, 1 when the token is already there, else 2. */
static int register_store(const char *cmd, const struct cli_spec *s, struct ledger_token *t,
			  const struct jwt_claims *jc, const unsigned char *sealed, size_t sealed_len)
{
	struct ledger *l = NULL;
	char err[512];
	int r, rc;

	if (ledger_open(s->ledger, LEDGER_OPEN_CREATE, &l, err, sizeof(err)))
		return cli_ledger_error(cmd, err);
	if ((rc = cli_refuse_known_values(cmd, l, s)))
		goto out;
	if ((r = ledger_add(l, t, sealed, sealed_len))) {
		rc = r == -EEXIST ? 1 : EXIT_USAGE;
		cmd_error(cmd, "%s", ledger_errmsg(l));
		goto out;
	}
	register_claims_history(l, t, jc);
	printf("%s\n", t->id);
	/* The task passed freetext_holds_secret(): shown as `ledger list` shows it. */
	fprintf(stderr, "tokenward %s: recorded %s (%s, sha256:%.12s) for task %s\n", cmd, t->id,
		t->redacted, t->sha256, t->task ? t->task : "-");
out:
	ledger_close(l);
	return rc;
}

static int ledger_register(int argc, char **argv)
{
	const char *cmd = "ledger register", *seal_key_arg = NULL;
	struct ledger_token t = { 0 };
	struct jwt_claims jc = { 0 };
	struct cli_spec s;
	unsigned char *sealed = NULL;
	size_t n = 0, sealed_len = 0;
	char *tok = NULL;
	int64_t now = time(NULL);
	int no_seal = 0, rc;

	if ((rc = cli_refuse_token_argv(cmd, argc, argv)))
		return rc;
	if ((rc = cli_parse_spec(cmd, argc, argv, "taSTEuiXCPILNK", register_help, &s, &no_seal, &seal_key_arg)) >= 0)
		return rc;
	if (!s.issuer || !*s.issuer)
		return cmd_usage_error(cmd, "--issuer is required");
	if (!strcmp(s.issuer, LEDGER_BUILTIN_ISSUER))
		return cmd_usage_error(cmd, "issuer '%s' is reserved for tokens from 'tokenward mint'",
				       LEDGER_BUILTIN_ISSUER);
	if ((rc = register_read_token(cmd, &tok, &n)) || (rc = register_classify(cmd, tok, n, &t, &jc)) ||
	    (rc = register_audience(cmd, &s, &jc, &t)) || (rc = register_expiry(cmd, &s, &jc, &t, now)) ||
	    (rc = cli_fill_delegate(cmd, &s, &t) ? EXIT_USAGE : 0))
		goto out;
	register_fill(&t, &s, &jc, tok, n, now);
	if (!no_seal && (rc = register_seal(cmd, s.ledger, seal_key_arg, tok, n, &t, &sealed, &sealed_len)))
		goto out;
	rc = register_store(cmd, &s, &t, &jc, sealed, sealed_len);
out:
	if (tok) {
		explicit_bzero(tok, n);
		free(tok);
	}
	free(sealed);
	t.issuer = t.task = t.scope = t.subject = t.jti = t.client_id = t.actor = NULL;
	cli_token_release(&t);
	jwt_claims_free(&jc);
	return rc;
}

/* ---- list / show ------------------------------------------------------ */

struct list_ctx {
	struct ledger *l;
	cJSON *arr;
	int64_t now;
	int n;
};

/* What the revoker did with the token at its issuer, from the queue in
 * the same database: the ledger's "revoked" is tokenward's decision, and
 * only a done job means the issuer confirmed it. */
static enum revoke_job_state revocation_state(struct ledger *l, const struct ledger_token *t,
					      struct revoke_job_info *info)
{
	if (!t->issuer || revoke_job_lookup(ledger_sqlite(l), t->sha256, t->issuer, info))
		memset(info, 0, sizeof(*info));
	return info->state;
}

static cJSON *revocation_json(struct ledger *l, const struct ledger_token *t)
{
	struct revoke_job_info j;
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "state", revoke_job_state_name(revocation_state(l, t, &j)));
	if (j.state == REVOKE_JOB_NONE)
		return o;
	cJSON_AddNumberToObject(o, "job", (double)j.job);
	cJSON_AddNumberToObject(o, "attempts", j.attempts);
	if (j.error[0])
		cJSON_AddStringToObject(o, "error", j.error);
	if (j.state == REVOKE_JOB_FAILED)
		cJSON_AddBoolToObject(o, "rearm_when_configured", j.rearm_when_configured);
	return o;
}

/* The STATUS column: "revoked" only once the issuer confirmed. */
static const char *list_status(struct list_ctx *c, const struct ledger_token *t)
{
	enum ledger_status s = ledger_effective_status(t, c->now);
	struct revoke_job_info j;

	if (s != LEDGER_REVOKED)
		return ledger_status_str(s);
	switch (revocation_state(c->l, t, &j)) {
	case REVOKE_JOB_DONE: return "revoked";
	case REVOKE_JOB_FAILED: return "revoke-failed";
	case REVOKE_JOB_NONE: return "revoke-queued";
	default: return "revoking";
	}
}

static int list_one(void *vctx, const struct ledger_token *t)
{
	struct list_ctx *c = vctx;
	char exp[40], *task;

	if (c->arr) {
		cJSON *o = ledger_token_to_json(t, c->now);

		cJSON_AddItemToObject(o, "revocation", revocation_json(c->l, t));
		freetext_redact_json(o);
		cJSON_AddItemToArray(c->arr, o);
		return 0;
	}
	if (c->n++ == 0)
		printf("%-15s %-20s %-13s %-20s %-10s %s\n", "ID", "TASK", "STATUS", "EXPIRES", "TOKEN", "AUDIENCE");
	util_rfc3339((uint64_t)t->expires_at * 1000000000ull, exp, sizeof(exp));
	exp[19] = 0;
	/* Stored before values were checked (an older ledger): shown redacted. */
	task = freetext_safe(t->task);
	printf("%-15s %-20.20s %-13s %-20s %-10s", t->id, task ? task : "-", list_status(c, t), exp,
	       t->redacted);
	free(task);
	for (size_t i = 0; i < t->naudience; i++) {
		char *a = freetext_safe(t->audience[i]);

		printf("%s%s", i ? "," : " ", a ? a : "?");
		free(a);
	}
	printf("\n");
	return 0;
}

static const char list_help[] =
	"usage: tokenward ledger list [--json] [--ledger PATH]\n\n"
	"List recorded tokens (never the tokens themselves: a 6-character prefix\n"
	"and the SHA-256). --json prints one array of objects with id, task, status,\n"
	"sha256, audience, expires_at and the rest of each entry.\n";

static const char show_help[] =
	"usage: tokenward ledger show ID [--json] [--ledger PATH]\n\n"
	"Show one token's entry and its history.\n";

/* Options of the read-only subcommands. Returns -1 to go on. */
static int parse_ro(const char *cmd, int argc, char **argv, const char *help, const char **ledger,
		    int *json, const char **pos)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "ledger", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	*ledger = NULL;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': *json = 1; break;
		case 'L': *ledger = optarg; break;
		case 'h': fputs(help, stdout); return 0;
		default:
			return cmd_opt_error(cmd, argv, c);
		}
	}
	if (pos) {
		if (optind >= argc)
			return cmd_usage_error(cmd, "which token? give its ID");
		*pos = argv[optind++];
	}
	if (optind < argc)
		return cmd_extra_arg(cmd, argv[optind]);
	if (!*ledger && !(*ledger = cmd_default_ledger(cmd)))
		return EXIT_USAGE;
	return -1;
}

static int ledger_list(int argc, char **argv)
{
	const char *cmd = "ledger list", *path;
	struct list_ctx c = { .now = time(NULL) };
	struct ledger *l;
	char err[512];
	int json = 0, r;

	if ((r = parse_ro(cmd, argc, argv, list_help, &path, &json, NULL)) >= 0)
		return r;
	r = ledger_open(path, LEDGER_OPEN_RDONLY, &l, err, sizeof(err));
	if (r == -ENOENT) {
		/* No ledger yet is an empty ledger; listing must not create one. */
		if (json)
			printf("[]\n");
		return 0;
	}
	if (r)
		return cli_ledger_error(cmd, err);
	if (json)
		c.arr = cJSON_CreateArray();
	c.l = l;
	r = ledger_foreach(l, list_one, &c);
	if (r) {
		r = cli_ledger_error(cmd, ledger_errmsg(l));
	} else if (json) {
		cmd_print_json(stdout, c.arr, 1);
	}
	cJSON_Delete(c.arr);
	ledger_close(l);
	return r;
}

struct hist_ctx {
	cJSON *arr;
};

static int show_hist(void *vctx, int64_t at, const char *event, const char *detail)
{
	struct hist_ctx *h = vctx;
	char ts[40];

	util_rfc3339((uint64_t)at, ts, sizeof(ts));
	if (h->arr) {
		cJSON *o = cJSON_CreateObject(), *d = detail ? cJSON_Parse(detail) : NULL;
		cJSON_AddStringToObject(o, "time", ts);
		cJSON_AddStringToObject(o, "event", event ? event : "");
		if (d)
			cJSON_AddItemToObject(o, "detail", d);
		cJSON_AddItemToArray(h->arr, o);
	} else {
		char *d = freetext_safe(detail);

		printf("  %s  %-12s %s\n", ts, event ? event : "", d ? d : "");
		free(d);
	}
	return 0;
}

static int ledger_show(int argc, char **argv)
{
	const char *cmd = "ledger show", *path, *id = NULL;
	struct ledger_token *t = NULL;
	struct hist_ctx h = { 0 };
	struct ledger *l;
	char err[512];
	int json = 0, r;
	cJSON *o, *it;

	if ((r = parse_ro(cmd, argc, argv, show_help, &path, &json, &id)) >= 0)
		return r;
	if ((r = ledger_open(path, LEDGER_OPEN_RDONLY, &l, err, sizeof(err))))
		return r == -ENOENT ? (cmd_error(cmd, "%s", err), 1) : cli_ledger_error(cmd, err);
	if ((r = ledger_get(l, id, &t))) {
		cmd_error(cmd, "%s", ledger_errmsg(l));
		ledger_close(l);
		return r == -ENOENT ? 1 : EXIT_USAGE;
	}
	o = ledger_token_to_json(t, time(NULL));
	cJSON_AddItemToObject(o, "revocation", revocation_json(l, t));
	if (json) {
		h.arr = cJSON_CreateArray();
		ledger_history_foreach(l, t->id, show_hist, &h);
		cJSON_AddItemToObject(o, "history", h.arr);
		freetext_redact_json(o);
		cmd_print_json(stdout, o, 1);
	} else {
		freetext_redact_json(o);
		cJSON_ArrayForEach(it, o) {
			char *v = cJSON_IsString(it) ? NULL : cJSON_PrintUnformatted(it);
			printf("%-13s %s\n", it->string, v ? v : it->valuestring);
			free(v);
		}
		printf("history:\n");
		ledger_history_foreach(l, t->id, show_hist, &h);
	}
	cJSON_Delete(o);
	ledger_token_free(t);
	ledger_close(l);
	return 0;
}

/* ---- complete / revoke ------------------------------------------------ */

static const char complete_help[] =
	"usage: tokenward ledger complete --task ID [--no-revoke] [--ledger PATH] [--config PATH]\n\n"
	"Mark every active token of the task completed and, unless --no-revoke,\n"
	"revoke each at once at its issuer (the config's issuers; the built-in one\n"
	"appends to revoked.list beside the ledger): a delegation token must not\n"
	"outlive its task. Waits up to 5 s, then prints one line per token:\n"
	"'revoked by issuer' only once the issuer confirmed, else NOT (YET) REVOKED\n"
	"and why. What is not confirmed stays queued ('tokenward revoke-queue status').\n"
	"Any later sighting of these tokens is reported as after_task.\n\n"
	"Exit: 0 every revocation confirmed; 1 some revocation failed or is still\n"
	"queued (that token is still valid), or no active token for the task;\n"
	"2 usage error or unusable ledger.\n";

static const char revoke_help[] =
	"usage: tokenward ledger revoke ID [--reason TEXT] [--ledger PATH] [--config PATH]\n\n"
	"Mark one token revoked and revoke it at its issuer, as 'complete' does.\n"
	"For a token already marked, say again what its issuer did, and deliver the\n"
	"revocation if it can go now (e.g. its issuer has been configured since).\n\n"
	"Exit: 0 the issuer confirmed; 1 not confirmed (failed or still queued) or\n"
	"no such token; 2 usage error or unusable ledger.\n";

static int ledger_complete(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "task", required_argument, NULL, 't' },
		{ "no-revoke", no_argument, NULL, 'n' },
		{ "ledger", required_argument, NULL, 'L' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *cmd = "ledger complete", *task = NULL, *path = NULL;
	const char *config_path = NULL;
	struct cli_outcomes out = { 0 };
	struct ledger *l;
	char err[512], *shown;
	int revoke = 1, c, r;
	size_t n;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't': task = optarg; break;
		case 'n': revoke = 0; break;
		case 'L': path = optarg; break;
		case 'c': config_path = optarg; break;
		case 'h': fputs(complete_help, stdout); return 0;
		default:
			return cmd_opt_error(cmd, argv, c);
		}
	}
	if (optind < argc)
		return cmd_extra_arg(cmd, argv[optind]);
	if (!task || !*task)
		return cmd_usage_error(cmd, "--task is required");
	if (config_path) /* this command's config is the one every default comes from */
		setenv(CONFIG_ENV, config_path, 1);
	if (!path && !(path = cmd_default_ledger(cmd)))
		return EXIT_USAGE;
	if ((r = ledger_open(path, LEDGER_OPEN_CREATE, &l, err, sizeof(err))))
		return cli_ledger_error(cmd, err);
	/* The hook names each token whose revocation the ledger queued. */
	ledger_set_revoke_hook(l, cli_outcomes_hook, &out);
	r = ledger_complete_task(l, task, revoke, (int64_t)util_now_ns(CLOCK_REALTIME), &n);
	ledger_set_revoke_hook(l, NULL, NULL);
	if (r) {
		cmd_error(cmd, "%s", ledger_errmsg(l));
		ledger_close(l);
		cli_outcomes_free(&out);
		return r == -ENOENT ? 1 : EXIT_USAGE;
	}
	/* It matched a stored task, so it is shown as `ledger list` shows it. */
	shown = freetext_safe(task);
	printf("task %s: %zu token%s completed%s\n", shown ? shown : "?", n, n == 1 ? "" : "s",
	       revoke ? "; revocation at each issuer:" : " (not revoked: --no-revoke)");
	free(shown);
	r = revoke ? cli_deliver(cmd, l, path, config_path, &out) : 0;
	cli_outcomes_free(&out);
	ledger_close(l);
	return r;
}

static int ledger_revoke_cmd(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ "ledger", required_argument, NULL, 'L' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *cmd = "ledger revoke", *id, *reason = "manual", *path = NULL;
	const char *config_path = NULL;
	struct cli_outcomes out = { 0 };
	struct ledger_token *t = NULL;
	struct ledger *l;
	char err[512];
	int c, r;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r': reason = optarg; break;
		case 'L': path = optarg; break;
		case 'c': config_path = optarg; break;
		case 'h': fputs(revoke_help, stdout); return 0;
		default:
			return cmd_opt_error(cmd, argv, c);
		}
	}
	if (optind >= argc)
		return cmd_usage_error(cmd, "which token? give its ID");
	id = argv[optind++];
	if (optind < argc)
		return cmd_extra_arg(cmd, argv[optind]);
	if (strlen(reason) > 64 || strpbrk(reason, "\"\\") || holds_token(reason))
		return cmd_usage_error(cmd, "--reason must be short plain text");
	if (config_path)
		setenv(CONFIG_ENV, config_path, 1);
	if (!path && !(path = cmd_default_ledger(cmd)))
		return EXIT_USAGE;
	if ((r = ledger_open(path, LEDGER_OPEN_CREATE, &l, err, sizeof(err))))
		return cli_ledger_error(cmd, err);
	ledger_set_revoke_hook(l, cli_outcomes_hook, &out);
	r = ledger_revoke(l, id, reason, (int64_t)util_now_ns(CLOCK_REALTIME));
	ledger_set_revoke_hook(l, NULL, NULL);
	if (r && r != -EALREADY) {
		cmd_error(cmd, "%s", ledger_errmsg(l));
		r = r == -ENOENT ? 1 : EXIT_USAGE;
	} else if (ledger_get(l, id, &t)) {
		cmd_error(cmd, "%s", ledger_errmsg(l));
		r = EXIT_USAGE;
	} else {
		/* Already marked: say what its issuer did, and deliver it if
		 * the job can go now (e.g. its issuer has been configured). */
		printf("%s: %s revoked in the ledger; revocation at the issuer:\n", t->id,
		       r == -EALREADY ? "already marked" : "marked");
		r = cli_outcomes_add(&out, t->id, t->issuer) ? EXIT_USAGE
							      : cli_deliver(cmd, l, path, config_path, &out);
	}
	ledger_token_free(t);
	cli_outcomes_free(&out);
	ledger_close(l);
	return r;
}

/* ---- dispatch --------------------------------------------------------- */

static const char ledger_help[] =
	"usage: tokenward ledger SUBCOMMAND [OPTIONS]\n\n"
	"The issuance ledger: what each delegation token was issued for.\n\n"
	"  register   record an externally issued token read from standard input\n"
	"  list       list recorded tokens [--json]\n"
	"  show ID    one token and its history\n"
	"  complete   --task ID: complete a task's tokens and revoke them\n"
	"  revoke ID  revoke one token\n\n"
	"Every subcommand takes --ledger PATH (default $" LEDGER_ENV ", else\n"
	LEDGER_DEFAULT_PATH ") and --help.\n";

int cmd_ledger(int argc, char **argv)
{
	static const struct { const char *name; int (*fn)(int, char **); } subs[] = {
		{ "register", ledger_register }, { "list", ledger_list }, { "show", ledger_show },
		{ "complete", ledger_complete }, { "revoke", ledger_revoke_cmd },
	};
	char safe[128];
	int r;

	if (argc < 2) {
		fputs(ledger_help, stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(ledger_help, stdout);
		return 0;
	}
	/* Before anything else: a token on argv is refused for every subcommand. */
	if ((r = cli_refuse_token_argv("ledger", argc, argv)))
		return r;
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (!strcmp(argv[1], subs[i].name))
			return subs[i].fn(argc - 1, argv + 1);
	return cmd_usage_error("ledger", "unknown subcommand '%s'", cmd_safe_arg(argv[1], safe, sizeof(safe)));
}
