/*
 * The command line of recent processes, for the event store's parent
 * chains: the argv of each exec the sensors capture, kept per process
 * (the last image's), in a fixed table (ARGVMEMO_SLOTS of ARGVMEMO_BYTES;
 * a newer process in the same slot replaces the older, longer argv is
 * cut). Held raw, in the monitor's memory only (which already holds the
 * captures); handed out redacted (redact_text). Loop thread only.
 */
#ifndef TW_ARGVMEMO_H
#define TW_ARGVMEMO_H

#include <stdint.h>
#include "sensors/capture.h"

#define ARGVMEMO_SLOTS 4096   /* power of two */
#define ARGVMEMO_BYTES 256

/* Remember c's argv when c is an exec's (CAP_EXEC_ARGV). */
void argvmemo_note(const struct capture *c);
/* The argv of (tgid, started at start_ns, within slack_ns), words joined
 * by spaces and redacted; NULL when not known. The caller frees it. */
char *argvmemo_redacted(uint32_t tgid, uint64_t start_ns, uint64_t slack_ns);

#endif
