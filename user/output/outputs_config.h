/*
 * The config file's `metrics:` and `outputs:` sections (lib/config.c
 * hands them here, so the outputs' keys live beside the outputs):
 *
 *   metrics:
 *     listen: 127.0.0.1:9464          # off when absent; --metrics overrides
 *   outputs:                          # a list; verdicts go to each; SIGHUP rebuilds what changed
 *     - type: file                    # the whole event stream, as --events
 *       path: /var/log/tokenward/events.jsonl
 *     - type: stdout                  # the whole event stream on stdout
 *     - type: syslog                  # verdict lines, RFC 5424
 *       address: /dev/log             # or unix:PATH, udp://HOST:PORT, tcp://HOST:PORT
 *       facility: daemon              # kern..local7 (default daemon)
 *       queue: 1000                   # messages waiting for the server, 1..100000; more dropped
 *                                     # (a key another type does not use is refused by name)
 *     - type: webhook                 # verdict lines as JSON arrays, POSTed
 *       url: https://siem.example/tokenward
 *       batch: 50                     # verdicts per POST, 1..1000
 *       queue: 1000                   # waiting verdicts, 1..100000; more are dropped, counted
 *       timeout: 5s                   # per POST
 *       backoff_base: 250ms           # first retry; doubles up to backoff_max
 *       backoff_max: 30s
 */
#ifndef TW_OUTPUTS_CONFIG_H
#define TW_OUTPUTS_CONFIG_H

#include <stddef.h>
#include <yaml.h>

#define OUTPUTS_MAX 8

enum output_type { OUTPUT_FILE, OUTPUT_STDOUT, OUTPUT_SYSLOG, OUTPUT_WEBHOOK };

struct output_cfg {
	enum output_type type;
	int line;                 /* where it was defined, for messages */
	char *path;               /* file */
	char *address;            /* syslog */
	int facility;             /* syslog, 0..23 */
	char *url;                /* webhook */
	unsigned batch, queue, timeout_ms, backoff_base_ms, backoff_max_ms;
};

struct outputs_cfg {
	char *metrics_listen;     /* NULL: no endpoint */
	struct output_cfg v[OUTPUTS_MAX];
	size_t n;
};

/* A top-level key of the config file. 1: not one of ours (key is neither
 * "metrics" nor "outputs"); 0: parsed into *oc (allocated on first use);
 * -1: "NAME:LINE: what" in err. */
int outputs_config_key(struct outputs_cfg **oc, yaml_document_t *doc, const char *key,
		       yaml_node_t *v, const char *name, char *err, size_t errsz);

const char *output_type_name(enum output_type t);

/* NULL-safe. */
void outputs_config_free(struct outputs_cfg *oc);

#endif
