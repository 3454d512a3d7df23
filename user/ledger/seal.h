/*
 * Sealing raw tokens that must be kept for a later revocation call at an
 * external issuer (RFC 7009 needs the token itself). AES-256-GCM with a
 * 32-byte key in a root-only file; see docs/THREAT-MODEL.md.
 *
 * Sealed blob: 1 byte version (1) | 12 bytes nonce | ciphertext | 16 bytes tag.
 * The caller's AAD (the ledger binds the token's SHA-256) ties a blob to
 * its row, so a blob copied onto another row does not open.
 */
#ifndef TW_SEAL_H
#define TW_SEAL_H

#include <stddef.h>

#define SEAL_KEY_LEN   32
#define SEAL_NONCE_LEN 12
#define SEAL_TAG_LEN   16
#define SEAL_OVERHEAD  (1 + SEAL_NONCE_LEN + SEAL_TAG_LEN)

struct seal_key {
	unsigned char k[SEAL_KEY_LEN];
};

/*
 * Load the key at path, creating it (0600, random from getrandom) when it
 * does not exist and create is set. Refuses a key file that is not a
 * regular file, is readable or writable by group or others, is not owned
 * by the caller's effective uid, or is not exactly 32 bytes.
 * Returns 0 or -errno; err gets one line naming the file.
 */
int seal_key_load(const char *path, int create, struct seal_key *key, char *err, size_t errsz);

/* Wipe the key from memory. */
void seal_key_wipe(struct seal_key *key);

/* out must hold n + SEAL_OVERHEAD bytes; *outlen gets the blob length. */
int seal_encrypt(const struct seal_key *key, const void *aad, size_t aadlen,
		 const void *pt, size_t n, unsigned char *out, size_t *outlen);

/* out must hold bloblen - SEAL_OVERHEAD bytes. Returns -EBADMSG when the
 * blob was altered, sealed under another key, or for another AAD. */
int seal_decrypt(const struct seal_key *key, const void *aad, size_t aadlen,
		 const unsigned char *blob, size_t bloblen, unsigned char *out, size_t *outlen);

/* Environment variable naming the key file. */
#define SEAL_KEY_ENV "TOKENWARD_SEAL_KEY"

/* The key file for a ledger: $TOKENWARD_SEAL_KEY, else seal.key beside
 * the ledger database. */
void seal_key_default_path(const char *ledger_path, char *out, size_t outsz);

#endif
