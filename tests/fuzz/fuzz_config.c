/*
 * The config file (user/lib/config.c via lib/yamldoc.c) on arbitrary
 * bytes: it loads, or is refused with "fuzz.yaml:LINE: ..."; a loaded
 * config is consistent (its default issuer exists, backoff is ordered).
 */
#include <ctype.h>
#include "lib/config.h"
#include "output/outputs_config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tw_config *c = NULL;
	char err[512] = "", *text = fuzz_cstr(data, size);

	if (config_load_string(text, "fuzz.yaml", &c, err, sizeof(err))) {
		FUZZ_CHECK(!c, "config returned with an error");
		FUZZ_CHECK(!strncmp(err, "fuzz.yaml:", 10) && (isdigit((unsigned char)err[10]) ||
			   strstr(err, "out of memory")), "error without file and line: %s", err);
	} else {
		FUZZ_CHECK(c && c->state_dir && c->ledger_path, "incomplete config");
		FUZZ_CHECK(c->revocation.backoff_max_ms >= c->revocation.backoff_base_ms, "backoff order");
		FUZZ_CHECK(!c->revocation.default_issuer || config_issuer(c, c->revocation.default_issuer),
			   "default issuer missing");
		for (size_t i = 0; i < c->nissuers; i++)
			FUZZ_CHECK(c->issuers[i].name && *c->issuers[i].name, "issuer without a name");
		/* outputs: each has what its type needs (output/outputs_config.c) */
		for (size_t i = 0; c->outputs && i < c->outputs->n; i++) {
			const struct output_cfg *o = &c->outputs->v[i];

			FUZZ_CHECK(c->outputs->n <= OUTPUTS_MAX, "too many outputs");
			FUZZ_CHECK((o->type == OUTPUT_FILE) == (o->path != NULL), "file output and path disagree");
			FUZZ_CHECK((o->type == OUTPUT_WEBHOOK) == (o->url != NULL), "webhook output and url disagree");
			FUZZ_CHECK(o->type != OUTPUT_SYSLOG || o->address, "syslog output without an address");
			FUZZ_CHECK(o->backoff_max_ms >= o->backoff_base_ms, "output backoff order");
			FUZZ_CHECK(o->batch >= 1 && o->queue >= 1 && o->facility >= 0 && o->facility < 24,
				   "output bounds");
		}
		config_free(c);
	}
	free(text);
	return 0;
}
