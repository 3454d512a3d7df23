/* Recent command lines by process (argvmemo.h). */
#include <stdlib.h>
#include <string.h>
#include "detect/redact.h"
#include "verdict/argvmemo.h"

struct slot {
	uint32_t tgid;
	uint64_t start_ns;
	uint16_t len;
	char argv[ARGVMEMO_BYTES];
};

static struct slot slots[ARGVMEMO_SLOTS];

static struct slot *slot_of(uint32_t tgid)
{
	return &slots[(tgid * 2654435761u) & (ARGVMEMO_SLOTS - 1)];
}

void argvmemo_note(const struct capture *c)
{
	struct slot *s;
	size_t n;

	if (c->kind != CAP_EXEC_ARGV || !c->hdr)
		return;
	s = slot_of(c->hdr->tgid);
	n = c->len < ARGVMEMO_BYTES - 1 ? c->len : ARGVMEMO_BYTES - 1;
	while (n && !c->data[n - 1])
		n--; /* the last word's NUL */
	for (size_t i = 0; i < n; i++)
		s->argv[i] = c->data[i] ? (char)c->data[i] : ' ';
	s->argv[n] = 0;
	s->len = (uint16_t)n;
	s->tgid = c->hdr->tgid;
	s->start_ns = c->hdr->start_boot_ns;
}

char *argvmemo_redacted(uint32_t tgid, uint64_t start_ns, uint64_t slack_ns)
{
	const struct slot *s = slot_of(tgid);

	if (s->tgid != tgid || !s->len || s->start_ns + slack_ns < start_ns || s->start_ns > start_ns + slack_ns)
		return NULL;
	return redact_text(s->argv, s->len);
}
