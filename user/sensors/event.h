/* Turning sensor records into JSON lines. */
#ifndef TW_EVENT_H
#define TW_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include <sys/socket.h>
#include "sensors/capture.h"
#include "tokenward.h"

#define EVENT_ARGV_MAX 64 /* argv entries shown per exec */

/* Check that a record is complete for its type: lengths inside len. */
int event_validate(const void *rec, size_t len);

/* Fields common to every record: time, pid, ppid, uid, comm, cgroup. */
void event_add_hdr(cJSON *o, const struct tw_hdr *h, int64_t boot_to_real);

/* Build the JSON object for one record; argv and other free text is
 * redacted. Returns NULL for a record type it does not describe. */
cJSON *event_to_json(const void *rec, size_t len, int64_t boot_to_real);

/* JSON for a capture or a connect: identity, path or addresses, sizes.
 * Never the captured bytes. */
cJSON *event_capture_to_json(const struct capture *c, int64_t boot_to_real);
cJSON *event_conn_to_json(const struct conn_event *c, int64_t boot_to_real);

/* "write", "sendto", ... for enum tw_syscall. */
const char *event_syscall_name(int sc);
/* "1.2.3.4:80", "[::1]:80", "unix:/path", "unix:@abstract". */
void event_addr_str(const struct sockaddr_storage *ss, char *out, size_t outsz);

#endif
