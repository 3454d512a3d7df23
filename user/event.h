/* Turning sensor records into JSON lines. */
#ifndef TW_EVENT_H
#define TW_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "tokenward.h"

#define EVENT_ARGV_MAX 64 /* argv entries shown per exec */

/* Check that a record is complete for its type: lengths inside len. */
int event_validate(const void *rec, size_t len);

/* Fields common to every record: time, pid, ppid, uid, comm, cgroup. */
void event_add_hdr(cJSON *o, const struct tw_hdr *h, int64_t boot_to_real);

/* Build the JSON object for one record; argv and other free text is
 * redacted. Returns NULL for a record type it does not describe. */
cJSON *event_to_json(const void *rec, size_t len, int64_t boot_to_real);

#endif
