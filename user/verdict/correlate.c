/*
 * Every rule here is a comparison against what the ledger recorded at
 * issuance; nothing is inferred from the token's bytes, so a token-shaped
 * string that the ledger does not know can only ever be `unmanaged`.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include "verdict/correlate.h"
#include "lib/cgroup.h"
#include "detect/redact.h"
#include "lib/util.h"
#include "lib/sha256.h"

static const char *const class_names[V__COUNT] = {
	"use", "file_write", "exec_env", "exec_argv", "net_dest", "foreign_process",
	"after_task", "expired_use", "unmanaged",
};

/* Primary class order, most important first. */
static const enum verdict_class precedence[] = {
	V_FILE_WRITE, V_EXEC_ENV, V_EXEC_ARGV, V_FOREIGN_PROCESS, V_NET_DEST,
	V_AFTER_TASK, V_EXPIRED_USE, V_USE,
};

const char *verdict_class_str(enum verdict_class c)
{
	return (unsigned)c < V__COUNT ? class_names[c] : "?";
}

const char *sighting_kind_str(enum sighting_kind k)
{
	switch (k) {
	case SIGHT_FILE_WRITE: return "file_write";
	case SIGHT_EXEC_ENV: return "exec_env";
	case SIGHT_EXEC_ARGV: return "exec_argv";
	case SIGHT_NET_SEND: return "net_send";
	}
	return "?";
}

static bool start_matches(uint64_t a, uint64_t b)
{
	if (!a || !b)
		return true; /* unknown on one side: the pid alone decides */
	return (a > b ? a - b : b - a) <= CORRELATE_START_SLACK_NS;
}

/* Is this process the delegate itself? */
static bool is_self(const struct sighting *s, const struct ledger_token *t)
{
	const struct sighting_proc *p = &s->proc;

	switch (t->delegate_kind) {
	case LEDGER_DELEGATE_ANY:
		return true;
	case LEDGER_DELEGATE_EXE:
		return p->exe && t->delegate && !strcmp(p->exe, t->delegate);
	case LEDGER_DELEGATE_CGROUP:
		if (p->cgroup_path && t->delegate)
			return cgroup_within(p->cgroup_path, t->delegate);
		return t->delegate_cgroup_id && p->cgroup_id == t->delegate_cgroup_id;
	case LEDGER_DELEGATE_PID:
		return p->tgid == t->delegate_pid && start_matches(p->start_boot_ns, t->delegate_start_ns);
	}
	return false;
}

/* Is this process a descendant of the delegate? */
static bool is_desc(const struct sighting *s, const struct ledger_token *t)
{
	switch (t->delegate_kind) {
	case LEDGER_DELEGATE_EXE:
		return s->has_ancestor_exe && t->delegate &&
		       s->has_ancestor_exe(s->ctx, s->proc.tgid, t->delegate) > 0;
	case LEDGER_DELEGATE_PID:
		return s->is_descendant && s->proc.tgid != t->delegate_pid &&
		       s->is_descendant(s->ctx, s->proc.tgid, t->delegate_pid, t->delegate_start_ns) > 0;
	default:
		/* any: everyone is "self"; cgroup: descendants stay inside it
		 * unless moved out, and then they are no longer the delegate. */
		return false;
	}
}

void correlate(const struct sighting *s, const struct ledger_token *t, struct verdict *v)
{
	static const char *const reasons[V__COUNT] = {
		[V_USE] = "delegate within its audience and life",
		[V_FILE_WRITE] = "written to a file",
		[V_EXEC_ENV] = "in the environment of a program that may not hold it",
		[V_EXEC_ARGV] = "in the arguments of a program that may not hold it",
		[V_NET_DEST] = "sent outside its audience",
		[V_FOREIGN_PROCESS] = "sent by a process that is not its delegate",
		[V_AFTER_TASK] = "seen after its task completed",
		[V_EXPIRED_USE] = "seen after it expired",
		[V_UNMANAGED] = "secret not in the ledger",
	};
	uint32_t c = 0;

	memset(v, 0, sizeof(*v));
	v->aud = AUD_MATCH;
	if (!t) {
		v->cls = V_UNMANAGED;
		v->classes = VERDICT_BIT(V_UNMANAGED);
		v->reason = reasons[V_UNMANAGED];
		return;
	}

	switch (s->kind) {
	case SIGHT_FILE_WRITE:
		c |= VERDICT_BIT(V_FILE_WRITE);
		break;
	case SIGHT_EXEC_ENV:
	case SIGHT_EXEC_ARGV:
		/* argv is world-readable (/proc/PID/cmdline): never a way to
		 * hand a token over, even to the delegate. */
		if (s->kind == SIGHT_EXEC_ARGV)
			c |= VERDICT_BIT(V_EXEC_ARGV);
		else if (!(is_self(s, t) || (t->inherit && is_desc(s, t))))
			c |= VERDICT_BIT(V_EXEC_ENV);
		break;
	case SIGHT_NET_SEND:
		if (!(is_self(s, t) || is_desc(s, t)))
			c |= VERDICT_BIT(V_FOREIGN_PROCESS);
		v->aud = audience_match(&t->aud, s->dest, s->destlen, s->sni, s->http_host);
		if (v->aud != AUD_MATCH)
			c |= VERDICT_BIT(V_NET_DEST);
		break;
	}
	if ((t->completed_ns && s->time_ns >= t->completed_ns) ||
	    (t->revoked_ns && s->time_ns >= t->revoked_ns) ||
	    ((t->status == LEDGER_COMPLETED || t->status == LEDGER_REVOKED) &&
	     !t->completed_ns && !t->revoked_ns))
		c |= VERDICT_BIT(V_AFTER_TASK);
	if ((t->expires_at && s->time_ns >= t->expires_at * 1000000000ll) || t->status == LEDGER_EXPIRED)
		c |= VERDICT_BIT(V_EXPIRED_USE);
	if (!c)
		c = VERDICT_BIT(V_USE);

	v->classes = c;
	for (size_t i = 0; i < sizeof(precedence) / sizeof(precedence[0]); i++)
		if (c & VERDICT_BIT(precedence[i])) {
			v->cls = precedence[i];
			break;
		}
	v->exposure = v->cls != V_USE;
	v->reason = reasons[v->cls];
	if (v->cls == V_NET_DEST)
		v->reason = audience_result_str(v->aud);
	else if (v->cls == V_AFTER_TASK && !t->completed_ns)
		v->reason = "seen after it was revoked";
}

const char *correlate_action(const struct verdict *v, const struct ledger_token *t, int64_t now_ns)
{
	if (v->cls == V_UNMANAGED || !t)
		return "alert";
	if (!v->exposure)
		return "record";
	if (t->revoked_ns && t->revoked_ns <= now_ns)
		return "already_revoked";
	return "revoke";
}

void correlate_format_dest(const struct sockaddr *sa, socklen_t len, char *out, size_t outsz)
{
	char ip[INET6_ADDRSTRLEN];

	out[0] = 0;
	if (!sa || len < sizeof(sa_family_t))
		return;
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(out, outsz, "%s:%u", ip, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			inet_ntop(AF_INET, in6->sin6_addr.s6_addr + 12, ip, sizeof(ip));
			snprintf(out, outsz, "%s:%u", ip, ntohs(in6->sin6_port));
		} else {
			inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
			snprintf(out, outsz, "[%s]:%u", ip, ntohs(in6->sin6_port));
		}
	} else if (sa->sa_family == AF_UNIX && len > offsetof(struct sockaddr_un, sun_path)) {
		const struct sockaddr_un *un = (const void *)sa;
		size_t n = len - offsetof(struct sockaddr_un, sun_path);
		if (n > sizeof(un->sun_path))
			n = sizeof(un->sun_path);
		n = un->sun_path[0] ? strnlen(un->sun_path, n) : n;
		snprintf(out, outsz, "unix:%s%.*s", un->sun_path[0] ? "" : "@",
			 (int)(un->sun_path[0] ? n : n - 1), un->sun_path + !un->sun_path[0]);
	}
}

static void add_text(cJSON *o, const char *key, const char *s)
{
	char *safe;

	if (!s) {
		cJSON_AddNullToObject(o, key);
		return;
	}
	safe = redact_text(s, strlen(s));
	cJSON_AddStringToObject(o, key, safe ? safe : "");
	free(safe);
}

cJSON *correlate_verdict_json(const struct sighting *s, const struct ledger_token *t,
			      const struct verdict *v, const char *action)
{
	cJSON *o = cJSON_CreateObject(), *cls = cJSON_CreateArray();
	char ts[40], dest[160];

	util_rfc3339((uint64_t)(s->time_ns > 0 ? s->time_ns : 0), ts, sizeof(ts));
	cJSON_AddStringToObject(o, "time", ts);
	cJSON_AddStringToObject(o, "class", verdict_class_str(v->cls));
	for (int i = 0; i < V__COUNT; i++)
		if (v->classes & VERDICT_BIT(i))
			cJSON_AddItemToArray(cls, cJSON_CreateString(class_names[i]));
	cJSON_AddItemToObject(o, "classes", cls);
	cJSON_AddBoolToObject(o, "exposure", v->exposure);
	cJSON_AddStringToObject(o, "reason", v->reason ? v->reason : "");
	if (t) {
		cJSON_AddStringToObject(o, "token_id", t->id);
		cJSON_AddStringToObject(o, "sha256", t->sha256);
		cJSON_AddStringToObject(o, "redacted", t->redacted);
		add_text(o, "task", t->task);
		add_text(o, "issuer", t->issuer);
	} else {
		/* Only a 64-hex string may stand as a hash; anything else is
		 * replaced rather than trusted not to be the secret. */
		unsigned char sha[32];
		cJSON_AddNullToObject(o, "token_id");
		if (s->sha256 && !sha256_from_hex(s->sha256, sha))
			cJSON_AddStringToObject(o, "sha256", s->sha256);
		else
			cJSON_AddNullToObject(o, "sha256");
		if (s->redacted && strlen(s->redacted) <= 24)
			add_text(o, "redacted", s->redacted);
		else
			cJSON_AddNullToObject(o, "redacted");
		cJSON_AddNullToObject(o, "task");
		cJSON_AddNullToObject(o, "issuer");
	}
	add_text(o, "rule", s->rule);
	cJSON_AddStringToObject(o, "kind", sighting_kind_str(s->kind));
	cJSON_AddNumberToObject(o, "pid", s->proc.tgid);
	cJSON_AddNumberToObject(o, "tid", s->proc.tid ? s->proc.tid : s->proc.tgid);
	cJSON_AddNumberToObject(o, "ppid", s->proc.ppid);
	add_text(o, "comm", s->proc.comm);
	add_text(o, "exe", s->proc.exe);
	cJSON_AddNumberToObject(o, "uid", s->proc.uid);
	add_text(o, "cgroup", s->proc.cgroup_path);
	add_text(o, "container_id", s->proc.container_id);
	add_text(o, "container_runtime", s->proc.container_runtime);
	cJSON_AddNumberToObject(o, "cgroup_id", (double)s->proc.cgroup_id);
	add_text(o, "path", s->kind == SIGHT_FILE_WRITE ? s->path : NULL);
	correlate_format_dest(s->dest, s->destlen, dest, sizeof(dest));
	if (dest[0])
		add_text(o, "dest", dest);
	else
		cJSON_AddNullToObject(o, "dest");
	add_text(o, "sni", s->sni && *s->sni ? s->sni : NULL);
	add_text(o, "host", s->http_host && *s->http_host ? s->http_host : NULL);
	if (s->kind == SIGHT_NET_SEND)
		cJSON_AddStringToObject(o, "audience_check", audience_result_str(v->aud));
	cJSON_AddStringToObject(o, "action", action ? action : "");
	return o;
}
