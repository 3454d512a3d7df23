/*
 * Audiences (user/verdict/audience.c) on arbitrary text: what parses has
 * a canonical text that fits its buffer and parses back to itself (the
 * ledger stores that text), and matching any destination against it is
 * total. The input is "AUDIENCE\nNAME": NAME is tried as SNI and Host.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>
#include "verdict/audience.h"
#include "fuzz.h"

/* Deterministic DNS: every name resolves to two addresses made from it. */
static int fake_resolver(const char *host, struct sockaddr_storage *a, int max)
{
	unsigned h = 2166136261u;
	struct sockaddr_in *in = (void *)&a[0];
	struct sockaddr_in6 *in6 = (void *)&a[1];

	if (max < 2 || host[0] == 'x')
		return -1;
	for (const char *p = host; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	memset(a, 0, 2 * sizeof(*a));
	in->sin_family = AF_INET;
	in->sin_addr.s_addr = htonl(0xcb007100u | (h & 0xff)); /* 203.0.113.x */
	in6->sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::", &in6->sin6_addr);
	in6->sin6_addr.s6_addr[15] = h & 0xff;
	return 2;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	audience_set_resolver(fake_resolver);
	return 0;
}

static void match_all(const struct audience_list *l, const char *name)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (void *)&ss;
	struct sockaddr_in6 *in6 = (void *)&ss;
	struct sockaddr_un *un = (void *)&ss;
	static const char *const v4[] = { "203.0.113.7", "127.0.0.1", "10.1.2.3" };
	static const char *const v6[] = { "2001:db8::7", "::1", "::ffff:203.0.113.7" };

	for (int i = 0; i < 3; i++) {
		memset(&ss, 0, sizeof(ss));
		in->sin_family = AF_INET;
		in->sin_port = htons(443);
		inet_pton(AF_INET, v4[i], &in->sin_addr);
		audience_result_str(audience_match(l, (void *)&ss, sizeof(*in), name, NULL));
		audience_match(l, (void *)&ss, sizeof(*in), NULL, name);
		memset(&ss, 0, sizeof(ss));
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(443);
		inet_pton(AF_INET6, v6[i], &in6->sin6_addr);
		audience_match(l, (void *)&ss, sizeof(*in6), name, NULL);
	}
	memset(&ss, 0, sizeof(ss));
	un->sun_family = AF_UNIX;
	snprintf(un->sun_path, sizeof(un->sun_path), "%s", name ? name : "/run/x.sock");
	audience_match(l, (void *)&ss, sizeof(*un), NULL, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_cstr(data, size), *name = strchr(text, '\n');
	char err[256], s1[AUDIENCE_STR_MAX], s2[AUDIENCE_STR_MAX];
	struct audience a, b;
	struct audience_list l = { .n = 1, .v = &a };

	if (name)
		*name++ = 0;
	if (audience_parse(text, &a, err, sizeof(err))) {
		FUZZ_CHECK(err[0], "refused without a reason");
		free(text);
		return 0;
	}
	audience_format(&a, s1, sizeof(s1));
	FUZZ_CHECK(strlen(s1) < sizeof(s1) - 1, "canonical text cut: %s", s1);
	FUZZ_CHECK(audience_parse(s1, &b, err, sizeof(err)) == 0, "'%s' -> '%s', which does not parse: %s",
		   text, s1, err);
	audience_format(&b, s2, sizeof(s2));
	FUZZ_CHECK(!strcmp(s1, s2), "'%s' -> '%s' -> '%s'", text, s1, s2);
	FUZZ_CHECK(a.kind == b.kind && a.port == b.port && a.tls == b.tls, "'%s': kind/port/tls differ", s1);
	if (a.kind == AUD_IP)
		FUZZ_CHECK(a.family == b.family && a.prefix == b.prefix && !memcmp(a.addr, b.addr, 16),
			   "'%s': address differs", s1);
	match_all(&l, name);
	free(text);
	return 0;
}
