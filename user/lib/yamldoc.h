/*
 * The one YAML reader for tokenward's own files: the config
 * (lib/config.c) and the rule files (detect/rules.c). libyaml's document
 * API, with the bounds it lacks:
 *
 *   - at most YAMLDOC_MAX_BYTES (1 MiB) per file: a 20 MB config took a
 *     minute and 343 MB to load; the largest real one is a few KiB;
 *   - at most YAMLDOC_MAX_DEPTH (64) nested collections: libyaml's scanner
 *     is quadratic in depth (100k levels took 49 s), and neither file
 *     nests deeper than 4;
 *   - one document: a second one ("---") would otherwise be ignored;
 *   - every key in a mapping once, checked in O(n log n): libyaml keeps
 *     duplicates, and a second value silently winning hides a mistake;
 *   - keys are plain values, no anchors or aliases (a node reachable many
 *     times, or from inside itself), no NUL byte in a value.
 *
 * Each refusal is "NAME:LINE: what", LINE 1-based, the line where the
 * offending construct starts (for the size limit, the line on which the
 * limit falls).
 */
#ifndef TW_YAMLDOC_H
#define TW_YAMLDOC_H

#include <stddef.h>
#include <stdio.h>
#include <yaml.h>

#define YAMLDOC_MAX_BYTES (1u << 20)
#define YAMLDOC_MAX_DEPTH 64

/* Parse text[0..len) into doc. 0 (the caller then deletes doc; an empty
 * file has no root node), or -1 with the message in err and doc empty. */
int yamldoc_load(yaml_document_t *doc, const char *name, const void *text, size_t len,
		 char *err, size_t errsz);

/* Read all of f, at most YAMLDOC_MAX_BYTES, into a new NUL-terminated
 * buffer (*out, *len). 0, or -1 with "NAME[:LINE]: what" in err. */
int yamldoc_read(FILE *f, const char *name, char **out, size_t *len, char *err, size_t errsz);

#endif
