/*
 * Correlation: a sighting of a secret plus its ledger entry (or none)
 * becomes one verdict. Pure: no I/O, no clock, no globals except the
 * audience resolver cache (audience.h); the process tree is asked through
 * callbacks, so tests drive it with fakes and the monitor with its table.
 *
 * Classes (issue 5):
 *   file_write       written to a file, by any process
 *   exec_env         in the environment of an exec'd program that is not its
 *   exec_argv        delegate, or that may not inherit it
 *   foreign_process  sent by a process that is neither its delegate nor a
 *                    descendant of it
 *   net_dest         sent to a destination outside its audience
 *   after_task       seen at or after its task's completion (or revocation)
 *   expired_use      seen at or after its expiry
 *   use              its delegate, to its audience, within its life (or an
 *                    exec that hands it to its delegate): not an exposure
 *   unmanaged        a secret a rule found that the ledger does not know
 *
 * Precedence when several apply (all of them are reported in `classes`):
 *   file_write > exec_env > exec_argv > foreign_process > net_dest >
 *   after_task > expired_use > use
 * The channel comes first because it says where the secret now is and
 * who else can read it; that is what an incident responder acts on.
 * Among channels, a foreign holder outranks a wrong destination: the
 * token already left its delegate before it was sent anywhere. Time
 * classes come last: a delegate-to-audience send after the task ended is
 * still reported (after_task), but a file write after the task ended is
 * first of all a file write.
 *
 * Delegates:
 *   exe     the process whose executable is that path; with `inherit`, also
 *           any descendant of such a process (has_ancestor_exe callback)
 *   cgroup  any process in that cgroup or below it (path, else cgroup id)
 *   pid     that process (matched with its start time, so a reused pid is
 *           not the delegate) and its descendants (is_descendant callback)
 *   any     no process constraint was recorded: only audience and life apply
 * For sends, the delegate and its descendants may hold the token (the
 * table's "not its delegate or a descendant of it"). For execs, the token
 * may be handed to the delegate itself, and to its descendants only when
 * the entry allows inheritance.
 */
#ifndef TW_CORRELATE_H
#define TW_CORRELATE_H

#include <stdint.h>
#include <sys/socket.h>
#include <cjson/cJSON.h>
#include "verdict/audience.h"
#include "ledger/ledger.h"

enum sighting_kind { SIGHT_FILE_WRITE = 1, SIGHT_EXEC_ENV, SIGHT_EXEC_ARGV, SIGHT_NET_SEND };

struct sighting_proc {
	uint32_t tgid, tid, ppid, uid;
	const char *comm;
	const char *exe;            /* resolved path; after exec, the new image */
	uint64_t cgroup_id;
	const char *cgroup_path;    /* relative to the cgroup2 root; NULL unknown */
	const char *container_id;   /* short id (12 hex) when the cgroup path names one; else NULL */
	const char *container_runtime; /* docker, containerd, cri-o, podman, kubernetes */
	uint64_t start_boot_ns;     /* process start since boot; 0 unknown */
};

struct sighting {
	enum sighting_kind kind;
	struct sighting_proc proc;
	int64_t time_ns;            /* CLOCK_REALTIME ns of the sighting */
	const char *path;           /* file_write: the file */
	const struct sockaddr *dest;/* net_send: destination */
	socklen_t destlen;
	const char *sni;            /* TLS ClientHello server name, if seen */
	const char *http_host;      /* plaintext HTTP Host header, if seen */
	const char *rule;           /* detector rule that matched */
	const char *sha256;         /* hex SHA-256 of the secret (needed when unmanaged) */
	const char *redacted;       /* redact_short() of the secret (when unmanaged) */
	/*
	 * Ancestry, from the monitor's process table. is_descendant: is tgid
	 * a (strict) descendant of ancestor_tgid, where the ancestor started
	 * at ancestor_start_ns (0: unknown, do not check)? has_ancestor_exe:
	 * does some (strict) ancestor of tgid run exe? Either may be NULL,
	 * which reads as "no": that errs towards reporting an exposure.
	 */
	int (*is_descendant)(void *ctx, uint32_t tgid, uint32_t ancestor_tgid, uint64_t ancestor_start_ns);
	int (*has_ancestor_exe)(void *ctx, uint32_t tgid, const char *exe);
	void *ctx;
};

enum verdict_class {
	V_USE = 0, V_FILE_WRITE, V_EXEC_ENV, V_EXEC_ARGV, V_NET_DEST, V_FOREIGN_PROCESS,
	V_AFTER_TASK, V_EXPIRED_USE, V_UNMANAGED, V__COUNT
};
#define VERDICT_BIT(c) (1u << (c))

struct verdict {
	enum verdict_class cls;     /* the primary class, by the precedence above */
	uint32_t classes;           /* every class that applies (VERDICT_BIT) */
	int exposure;               /* 1 for every class but use and unmanaged */
	enum audience_result aud;   /* net sends: the audience check */
	const char *reason;         /* static text: why the primary class */
};

/* Start times from /proc are in clock ticks; the sensors' in ns. */
#define CORRELATE_START_SLACK_NS 20000000ull

/* t NULL: an unmanaged secret. */
void correlate(const struct sighting *s, const struct ledger_token *t, struct verdict *v);

const char *verdict_class_str(enum verdict_class c);
const char *sighting_kind_str(enum sighting_kind k);

/*
 * What to do: "alert" (unmanaged), "record" (use), "revoke" (exposure of
 * a live token), "already_revoked" (exposure of a token revoked before
 * the sighting).
 */
const char *correlate_action(const struct verdict *v, const struct ledger_token *t, int64_t now_ns);

/*
 * The verdict line: time (RFC 3339), class, classes, exposure, reason,
 * token_id, sha256, rule, redacted, task, issuer, kind, pid, tid, ppid,
 * comm, exe, uid, cgroup, cgroup_id, path, dest ("ip:port", "[v6]:port"
 * or "unix:PATH"), sni, host, action. Free text from the sighting
 * (path, exe, comm, names) is passed through redact_text(); no raw secret
 * can enter it because the builder never receives one.
 */
cJSON *correlate_verdict_json(const struct sighting *s, const struct ledger_token *t,
			      const struct verdict *v, const char *action);

/* "ip:port", "[v6]:port" or "unix:PATH" for a sockaddr. */
void correlate_format_dest(const struct sockaddr *sa, socklen_t len, char *out, size_t outsz);

#endif
