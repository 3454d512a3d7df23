/*
 * Verdict lines to syslog, RFC 5424: the local socket (/dev/log, a
 * datagram socket), or a UDP or TCP address (TCP frames each message
 * with its length, RFC 6587 octet counting). The message is the verdict
 * line itself, already redacted JSON; nothing else is added to it.
 *
 *   <PRI>1 2026-12-02T05:20:49.775421Z HOST tokenward PID verdict - {"event":"verdict",...}
 *
 * The address is resolved once, at open: one that does not resolve is
 * an error (the command exits 2). A send never blocks the loop thread
 * for long: datagrams go MSG_DONTWAIT, a TCP send waits at most
 * SYSLOG_SEND_TIMEOUT_MS; a message that could not be sent is counted,
 * and a lost TCP connection is made again (at most once a second).
 */
#ifndef TW_SYSLOG_H
#define TW_SYSLOG_H

#include <stddef.h>
#include <stdint.h>

#define SYSLOG_SEND_TIMEOUT_MS 200
#define SYSLOG_MSG_MAX (64u << 10)

struct syslog_out;

/* address: "/PATH", "unix:/PATH", "udp://HOST:PORT", "tcp://HOST:PORT".
 * facility 0..23. 0 or -1 with the reason in err. */
int syslog_out_open(const char *address, int facility, struct syslog_out **out, char *err,
		    size_t errsz);

/* severity 0..7 (RFC 5424), msgid e.g. "verdict". 0 sent, -1 failed (counted). */
int syslog_out_send(struct syslog_out *s, int severity, const char *msgid, const char *msg);

uint64_t syslog_out_sent(const struct syslog_out *s);
uint64_t syslog_out_failed(const struct syslog_out *s);
const char *syslog_out_address(const struct syslog_out *s);

/* NULL-safe. */
void syslog_out_close(struct syslog_out *s);

#endif
