/*
 * Free text that the ledger keeps beside a token and shows again: task,
 * scope, subject, issuer, JWT claims, paths in reports. It comes from
 * outside (argv, a JWT's claims), so it may hold a secret; none may be
 * stored or shown raw.
 *
 * "Holds a secret" here means what the built-in rule pack finds (the
 * detector, look-alikes whose checksum fails included), not redact.c's
 * generic "long mixed-class run" heuristic: a task id such as a UUID is
 * an identifier the user types again (`ledger complete --task`), and
 * must be neither refused nor masked.
 */
#ifndef TW_FREETEXT_H
#define TW_FREETEXT_H

#include <stddef.h>
#include <cjson/cJSON.h>

/* 1 when s[0..n) holds a secret a rule recognises (rule id in *rule_id
 * when non-NULL), 0 when not. 1 too when the check cannot run (out of
 * memory): a caller refusing or masking errs on the safe side. */
int freetext_holds_secret(const char *s, size_t n, const char **rule_id);

/* A copy of s, passed through redact_text() when it holds a secret. NULL
 * for NULL, or when out of memory. The caller frees. */
char *freetext_safe(const char *s);

/* Every string value in o (recursively) that holds a secret is replaced
 * by its redact_text() form. */
void freetext_redact_json(cJSON *o);

#endif
