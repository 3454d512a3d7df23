/*
 * The running monitor's status file, STATE_DIR/status.json, rewritten
 * about once a second (write to a temporary file, then rename, so readers
 * never see half of it). Each module contributes its own section through
 * a provider; `tokenward status` prints the file.
 *
 *   {"version":1,"pid":123,"running":true,"updated":"2026-...Z",
 *    "started":"...","sensors":{...},"<your module>":{...}}
 */
#ifndef TW_STATUS_H
#define TW_STATUS_H

#include <stddef.h>
#include <cjson/cJSON.h>

#define STATUS_FILE "status.json"
#define STATUS_MAX_PROVIDERS 16

/* Fill `section` (an empty JSON object) with this module's figures. */
typedef void (*status_fill_fn)(void *ctx, cJSON *section);

/* Register a section; name must be unique and outlive the registry.
 * Returns 0, -EEXIST or -ENOSPC. */
int status_add_provider(const char *name, status_fill_fn fn, void *ctx);
void status_clear_providers(void);

/* The whole status object from every provider; caller deletes it. */
cJSON *status_build(int running, unsigned long long started_realtime_ns);

/* Build and atomically replace DIR/status.json. Returns 0 or -errno. */
int status_write(const char *dir, int running, unsigned long long started_realtime_ns);

/* Read DIR/status.json. Returns 0, -ENOENT when there is none, or
 * another -errno with a message in err: DIR is not a private state
 * directory (safefile_check_dir), status.json is not a regular file, or
 * it is not valid JSON or its "pid" is not an integer in 1..INT_MAX
 * (-EINVAL). */
int status_read(const char *dir, cJSON **out, char *err, size_t errsz);

#endif
