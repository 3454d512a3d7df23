/*
 * History entries as sentences a reviewer reads, not JSON: one function
 * per kind of entry, each from the detail the ledger or the revoker
 * recorded (user/ledger/ledger.c, user/revoke/revoke.c). Unknown entries
 * fall back to their name. The text is escaped by the renderer.
 */
#include <stdio.h>
#include <string.h>
#include "ledger/report.h"

static const char *s_(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItem(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double n_(const cJSON *o, const char *k, double dflt)
{
	const cJSON *v = cJSON_GetObjectItem(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static const char *how_of(const char *type)
{
	if (!type)
		return "issuer";
	if (!strcmp(type, "rfc7009"))
		return "RFC 7009";
	if (!strcmp(type, "builtin"))
		return "built-in list";
	if (!strcmp(type, "command"))
		return "command hook";
	return type;
}

/* "agent (pid 42, /usr/bin/agent)" */
static void who(const cJSON *d, char *out, size_t n)
{
	const char *comm = s_(d, "comm"), *exe = s_(d, "exe");

	snprintf(out, n, "%s (pid %.0f%s%s)", comm ? comm : "a process", n_(d, "pid", 0),
		 exe ? ", " : "", exe ? exe : "");
}

static void sighting(const cJSON *d, char *out, size_t n)
{
	const char *cls = s_(d, "class"), *kind = s_(d, "kind"), *path = s_(d, "path"),
		   *dest = s_(d, "dest"), *sni = s_(d, "sni"), *host = s_(d, "host"),
		   *act = s_(d, "action"), *dec = s_(d, "decoded");
	int exposure = cJSON_IsTrue(cJSON_GetObjectItem(d, "exposure"));
	char w[600], where[700] = "", chain[700] = "";
	const cJSON *par;
	size_t len = 0;

	who(d, w, sizeof(w));
	cJSON_ArrayForEach(par, cJSON_GetObjectItem(d, "parents")) {
		char one[300];

		who(par, one, sizeof(one));
		if (len < sizeof(chain))
			len += snprintf(chain + len, sizeof(chain) - len, "%s%s", len ? " <- " : "; parents: ", one);
	}
	if (kind && !strcmp(kind, "file_write"))
		snprintf(where, sizeof(where), "wrote it to %s", path ? path : "a file");
	else if (kind && !strcmp(kind, "net_send")) {
		char via[300] = "";

		if (sni)
			snprintf(via, sizeof(via), " (SNI %s)", sni);
		else if (host)
			snprintf(via, sizeof(via), " (Host %s)", host);
		snprintf(where, sizeof(where), "sent it to %s%s", dest ? dest : "a socket", via);
	}
	else if (kind && !strcmp(kind, "exec_argv"))
		snprintf(where, sizeof(where), "passed it on a command line");
	else if (kind && !strcmp(kind, "exec_env"))
		snprintf(where, sizeof(where), "passed it in the environment of a new program");
	else
		snprintf(where, sizeof(where), "held it");
	snprintf(out, n, "%s%s: %s %s%s%s; action %s%s", exposure ? "exposure, " : "",
		 cls ? cls : "sighting", w, where, dec ? ", decoded from " : "", dec ? dec : "",
		 act ? act : "none", chain);
}

static void revoked(const cJSON *d, int64_t at_ns, int64_t first_ns, char *out, size_t n)
{
	const char *issuer = s_(d, "issuer"), *res = s_(d, "result"), *reason = s_(d, "reason");
	char code[32] = "", after[64] = "";

	if (!res) { /* the ledger's mark: tokenward's decision, not the issuer's */
		snprintf(out, n, "marked revoked in the ledger (%s)", reason ? reason : "revoked");
		return;
	}
	if (cJSON_IsNumber(cJSON_GetObjectItem(d, "http_status")))
		snprintf(code, sizeof(code), ", HTTP %.0f", n_(d, "http_status", 0));
	if (first_ns && at_ns >= first_ns)
		snprintf(after, sizeof(after), ", %.1f ms after the exposure", (double)(at_ns - first_ns) / 1e6);
	snprintf(out, n, "revoked at issuer %s (%s%s) in %.1f ms%s", issuer ? issuer : "?",
		 how_of(s_(d, "type")), code, n_(d, "elapsed_ms", 0), after);
}

void report_sentence(const char *event, const cJSON *d, int64_t at_ns, int64_t first_ns,
		     char *out, size_t n)
{
	const char *issuer = s_(d, "issuer"), *det = s_(d, "detail"), *err = s_(d, "error");

	if (!strcmp(event, "sighting"))
		sighting(d, out, n);
	else if (!strcmp(event, "revoked"))
		revoked(d, at_ns, first_ns, out, n);
	else if (!strcmp(event, "issued"))
		snprintf(out, n, "issued (%s format%s)", s_(d, "issuer_format") ? s_(d, "issuer_format") : "?",
			 cJSON_IsTrue(cJSON_GetObjectItem(d, "sealed")) ? ", sealed for revocation" : "");
	else if (!strcmp(event, "revoke_queued"))
		snprintf(out, n, "revocation queued for issuer %s (job %.0f, after a %s verdict)",
			 issuer ? issuer : "?", n_(d, "job", 0),
			 s_(d, "verdict_class") ? s_(d, "verdict_class") : "?");
	else if (!strcmp(event, "revoke_retry"))
		snprintf(out, n, "revocation attempt %.0f at issuer %s did not go through (%s); retrying",
			 n_(d, "attempt", 0), issuer ? issuer : "?", det ? det : "no answer");
	else if (!strcmp(event, "revoke_failed"))
		snprintf(out, n, "revocation at issuer %s failed: %s", issuer ? issuer : "?",
			 det ? det : err ? err : "no answer");
	else if (!strcmp(event, "revoke_rearmed"))
		snprintf(out, n, "revocation re-armed for issuer %s", issuer ? issuer : "?");
	else if (!strcmp(event, "alert"))
		snprintf(out, n, "alert only: the policy does not revoke this class at issuer %s",
			 issuer ? issuer : "?");
	else if (!strcmp(event, "completed"))
		snprintf(out, n, "its task was completed");
	else if (!strcmp(event, "expired"))
		snprintf(out, n, "it expired");
	else if (!strcmp(event, "revoke_handed_over"))
		snprintf(out, n, "the revocation request was handed to the monitor's revoker");
	else if (!strcmp(event, "revoke_not_handed_over"))
		snprintf(out, n, "the revocation request was not handed over");
	else if (!strcmp(event, "claims"))
		snprintf(out, n, "claims read from the token");
	else
		snprintf(out, n, "%s", event);
}
