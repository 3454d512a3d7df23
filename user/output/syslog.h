/*
 * Verdict lines to syslog, RFC 5424: the local socket (/dev/log, a
 * datagram socket), or a UDP or TCP address (TCP frames each message
 * with its length, RFC 6587 octet counting). The message is the verdict
 * line itself, already redacted JSON; nothing else is added to it.
 *
 *   <PRI>1 2026-12-02T05:20:49.775421Z HOST tokenward PID verdict - {"event":"verdict",...}
 *
 * The address is resolved once, at open: one that does not resolve is
 * an error (the command exits 2).
 *
 * Never blocks the loop thread: every socket is non-blocking (a TCP
 * connect too). A message is formatted when the verdict is made and put
 * in a bounded queue (`queue` messages, at most SYSLOG_QUEUE_BYTES); the
 * loop sends what the socket takes, each pass (syslog_out_pump), and the
 * rest waits. A server that is absent or went away is connected to again
 * with doubling backoff (SYSLOG_BACKOFF_MIN_MS up to SYSLOG_BACKOFF_MAX_MS);
 * meanwhile messages wait in the queue. Counted: a message the full queue
 * could not take (dropped), a message lost on the way (failed: a TCP
 * connection cut in the middle of it, a datagram refused as too large).
 * The kernel's send buffer of a TCP socket is kept small
 * (SYSLOG_SNDBUF), so a receiver that stops reading shows in these
 * counters within a few hundred messages, not megabytes later.
 */
#ifndef TW_SYSLOG_H
#define TW_SYSLOG_H

#include <stddef.h>
#include <stdint.h>

#define SYSLOG_MSG_MAX (64u << 10)
#define SYSLOG_QUEUE_BYTES (8u << 20)
#define SYSLOG_SNDBUF (64 << 10)
#define SYSLOG_BACKOFF_MIN_MS 100
#define SYSLOG_BACKOFF_MAX_MS 30000
#define SYSLOG_CONNECT_TIMEOUT_MS 5000
#define SYSLOG_CLOSE_FLUSH_MS 1000   /* at exit, what is queued gets this long */

struct syslog_out;

/* address: "/PATH", "unix:/PATH", "udp://HOST:PORT", "tcp://HOST:PORT".
 * facility 0..23, queue: messages that may wait (1..100000). 0 or -1
 * with the reason in err. */
int syslog_out_open(const char *address, int facility, unsigned queue, struct syslog_out **out,
		    char *err, size_t errsz);

/* The same destination, facility and queue: a reload keeps this output. */
int syslog_out_same(const struct syslog_out *s, const char *address, int facility, unsigned queue);

/* severity 0..7 (RFC 5424), msgid e.g. "verdict". Queued and sent as far
 * as the socket takes it now: 0, or -1 when the queue is full or the
 * message too large (counted as dropped). */
int syslog_out_send(struct syslog_out *s, int severity, const char *msgid, const char *msg);

/* Send what is queued, as far as the socket takes it without waiting;
 * connect again when the backoff allows. Loop thread, every pass. */
void syslog_out_pump(struct syslog_out *s);

/* Wait at most ms for the queue to empty (exit, never the loop). */
void syslog_out_flush(struct syslog_out *s, unsigned ms);

uint64_t syslog_out_sent(const struct syslog_out *s);
uint64_t syslog_out_failed(const struct syslog_out *s);   /* failed + dropped */
size_t syslog_out_pending(const struct syslog_out *s);
const char *syslog_out_address(const struct syslog_out *s);

/* sent, failed, dropped, queued_now, connected, connects into o. */
struct cJSON;
void syslog_out_status(const struct syslog_out *s, struct cJSON *o);

/* NULL-safe. What is still queued is counted as dropped and logged. */
void syslog_out_close(struct syslog_out *s);

#endif
