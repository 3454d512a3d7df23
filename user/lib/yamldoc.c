/*
 * Two passes over at most 1 MiB. The first reads libyaml's event stream,
 * which costs O(depth) per event, and stops at the first construct we
 * refuse, before any deep nesting is scanned far; only a file that passes
 * is composed into a document (yaml_parser_load), whose mappings are then
 * checked for duplicate keys by sorting each one's keys.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "detect/redact.h"
#include "lib/util.h"
#include "lib/yamldoc.h"

static int refuse(char *err, size_t errsz, const char *name, size_t line, const char *what)
{
	util_seterr(err, errsz, "%s:%zu: %s", name, line + 1, what);
	return -1;
}

static int event_check(const yaml_event_t *ev, const char *name, int *depth, int *docs,
		       char *err, size_t errsz)
{
	size_t line = ev->start_mark.line;
	const yaml_char_t *anchor = NULL;

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++*docs > 1)
			return refuse(err, errsz, name, line, "a second YAML document ('---'): "
				      "a file holds one");
		break;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		anchor = ev->type == YAML_SEQUENCE_START_EVENT ? ev->data.sequence_start.anchor
							       : ev->data.mapping_start.anchor;
		if (++*depth > YAMLDOC_MAX_DEPTH)
			return refuse(err, errsz, name, line, "nested deeper than 64 levels, "
				      "the limit for a YAML file");
		break;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		--*depth;
		break;
	case YAML_SCALAR_EVENT:
		anchor = ev->data.scalar.anchor;
		if (memchr(ev->data.scalar.value, 0, ev->data.scalar.length))
			return refuse(err, errsz, name, line, "a NUL byte in a value");
		break;
	case YAML_ALIAS_EVENT:
		return refuse(err, errsz, name, line, "anchors and aliases (&name, *name) "
			      "are not supported");
	default:
		break;
	}
	if (anchor)
		return refuse(err, errsz, name, line, "anchors and aliases (&name, *name) "
			      "are not supported");
	return 0;
}

static int syntax_error(const yaml_parser_t *p, const char *name, char *err, size_t errsz)
{
	util_seterr(err, errsz, "%s:%zu: YAML error: %s%s%s", name, p->problem_mark.line + 1,
		    p->problem ? p->problem : "malformed YAML", p->context ? " " : "",
		    p->context ? p->context : "");
	return -1;
}

/* The first pass: every bound but duplicate keys, in one read of the events. */
static int events_check(const void *text, size_t len, const char *name, char *err, size_t errsz)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int depth = 0, docs = 0, rc = 0, done = 0;

	if (!yaml_parser_initialize(&p))
		return refuse(err, errsz, name, 0, "out of memory");
	yaml_parser_set_input_string(&p, text, len);
	while (!rc && !done) {
		if (!yaml_parser_parse(&p, &ev)) {
			rc = syntax_error(&p, name, err, errsz);
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		rc = event_check(&ev, name, &depth, &docs, err, errsz);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return rc;
}

struct keyref {
	const yaml_node_t *n;
};

static int key_cmp(const void *a, const void *b)
{
	const yaml_node_t *x = ((const struct keyref *)a)->n, *y = ((const struct keyref *)b)->n;
	size_t xl = x->data.scalar.length, yl = y->data.scalar.length;
	int c = memcmp(x->data.scalar.value, y->data.scalar.value, xl < yl ? xl : yl);

	if (c || xl != yl)
		return c ? c : xl < yl ? -1 : 1;
	/* equal keys in file order, so the later one is the one reported */
	return x->start_mark.index < y->start_mark.index ? -1 : x->start_mark.index > y->start_mark.index;
}

static int twice(const yaml_node_t *first, const yaml_node_t *again, const char *name,
		 char *err, size_t errsz)
{
	char *shown = redact_text((const char *)again->data.scalar.value, again->data.scalar.length);

	util_seterr(err, errsz, "%s:%zu: '%.64s' given twice (first at line %zu)", name,
		    again->start_mark.line + 1, shown ? shown : "?", first->start_mark.line + 1);
	free(shown);
	return -1;
}

/* Keys are scalars (events_check saw no alias; non-scalar keys are
 * refused here). keys has room for the largest mapping. */
static int mapping_check(yaml_document_t *doc, const yaml_node_t *m, struct keyref *keys,
			 const char *name, char *err, size_t errsz)
{
	size_t n = 0;

	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		const yaml_node_t *k = yaml_document_get_node(doc, p->key);
		if (!k || k->type != YAML_SCALAR_NODE)
			return refuse(err, errsz, name, k ? k->start_mark.line : m->start_mark.line,
				      "a key must be a plain value, not a list or mapping");
		keys[n++].n = k;
	}
	if (n < 2)
		return 0;
	qsort(keys, n, sizeof(*keys), key_cmp);
	for (size_t i = 1; i < n; i++) {
		const yaml_node_t *a = keys[i - 1].n, *b = keys[i].n;
		if (a->data.scalar.length == b->data.scalar.length &&
		    !memcmp(a->data.scalar.value, b->data.scalar.value, a->data.scalar.length))
			return twice(a, b, name, err, errsz);
	}
	return 0;
}

/* The second pass: every mapping of the document, each node once (the
 * node array, not a walk of the tree). */
static int keys_check(yaml_document_t *doc, const char *name, char *err, size_t errsz)
{
	size_t most = 0;
	struct keyref *keys;
	int rc = 0;

	for (yaml_node_t *n = doc->nodes.start; n < doc->nodes.top; n++)
		if (n->type == YAML_MAPPING_NODE &&
		    (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start) > most)
			most = n->data.mapping.pairs.top - n->data.mapping.pairs.start;
	if (!most)
		return 0;
	keys = malloc(most * sizeof(*keys));
	if (!keys)
		return refuse(err, errsz, name, 0, "out of memory");
	for (yaml_node_t *n = doc->nodes.start; !rc && n < doc->nodes.top; n++)
		if (n->type == YAML_MAPPING_NODE)
			rc = mapping_check(doc, n, keys, name, err, errsz);
	free(keys);
	return rc;
}

int yamldoc_load(yaml_document_t *doc, const char *name, const void *text, size_t len,
		 char *err, size_t errsz)
{
	yaml_parser_t p;
	size_t line = 0;

	memset(doc, 0, sizeof(*doc));
	if (len > YAMLDOC_MAX_BYTES) {
		for (const char *s = text, *e = s + YAMLDOC_MAX_BYTES; (s = memchr(s, '\n', e - s)); s++)
			line++;
		return refuse(err, errsz, name, line, "larger than 1 MiB, the limit for a YAML file");
	}
	if (events_check(text, len, name, err, errsz))
		return -1;
	if (!yaml_parser_initialize(&p))
		return refuse(err, errsz, name, 0, "out of memory");
	yaml_parser_set_input_string(&p, text, len);
	if (!yaml_parser_load(&p, doc)) {
		syntax_error(&p, name, err, errsz);
		yaml_parser_delete(&p);
		memset(doc, 0, sizeof(*doc));
		return -1;
	}
	yaml_parser_delete(&p);
	if (keys_check(doc, name, err, errsz)) {
		yaml_document_delete(doc);
		memset(doc, 0, sizeof(*doc));
		return -1;
	}
	return 0;
}

int yamldoc_read(FILE *f, const char *name, char **out, size_t *len, char *err, size_t errsz)
{
	char *buf = malloc(YAMLDOC_MAX_BYTES + 2);
	size_t n;

	if (!buf)
		return refuse(err, errsz, name, 0, "out of memory");
	/* One byte more than the limit tells "exactly 1 MiB" from "more". */
	n = fread(buf, 1, YAMLDOC_MAX_BYTES + 1, f);
	if (ferror(f)) {
		util_seterr(err, errsz, "%s: cannot read: %s", name, strerror(errno));
		free(buf);
		return -1;
	}
	if (n > YAMLDOC_MAX_BYTES) {
		yaml_document_t unused;
		yamldoc_load(&unused, name, buf, n, err, errsz); /* the size message, with its line */
		free(buf);
		return -1;
	}
	buf[n] = 0;
	*out = buf;
	*len = n;
	return 0;
}
