/*
 * OpenSSL EVP AES-256-GCM. Nonces are 96 random bits per seal: the number
 * of tokens sealed under one key stays far below the 2^32 bound for random
 * GCM nonces.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "ledger/seal.h"
#include "lib/safefile.h"

static int fill_random(void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = getrandom((char *)buf + got, n - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += r;
	}
	return 0;
}

static int key_create(const char *path, char *err, size_t errsz)
{
	unsigned char k[SEAL_KEY_LEN];
	int fd, r;

	if ((r = fill_random(k, sizeof(k)))) {
		snprintf(err, errsz, "cannot read the kernel CSPRNG for seal key %s: %s", path, strerror(-r));
		return r;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = -errno;
		explicit_bzero(k, sizeof(k));
		if (r == -EEXIST)
			return r; /* raced with another creator: load theirs */
		snprintf(err, errsz, "cannot create seal key %s: %s", path, strerror(-r));
		return r;
	}
	r = write(fd, k, sizeof(k)) == (ssize_t)sizeof(k) && fsync(fd) == 0 ? 0 : -EIO;
	explicit_bzero(k, sizeof(k));
	if (close(fd) || r) {
		unlink(path);
		snprintf(err, errsz, "cannot write seal key %s", path);
		return -EIO;
	}
	return 0;
}

int seal_key_load(const char *path, int create, struct seal_key *key, char *err, size_t errsz)
{
	struct stat st;
	char msg[512];
	ssize_t n;
	int fd, r;

	/* Not through a link (the mode checked must be the key's own), and a
	 * FIFO in its place must not stall the command. */
	fd = safefile_open_read(path, SAFEFILE_NOFOLLOW, msg, sizeof(msg));
	if (fd == -ENOENT && create) {
		/* The first register may come before anything made the state
		 * directory; make it root-only like the key. */
		char *copy = strdup(path);
		if (copy) {
			mkdir(dirname(copy), 0700);
			free(copy);
		}
		/* Where another user could delete or replace the key, a new
		 * one is no secret: refuse that directory. */
		if ((r = safefile_check_parent(path, "seal key directory", err, errsz)))
			return r;
		r = key_create(path, err, errsz);
		if (r && r != -EEXIST)
			return r;
		fd = safefile_open_read(path, SAFEFILE_NOFOLLOW, msg, sizeof(msg));
	}
	if (fd < 0) {
		snprintf(err, errsz, "cannot open seal key: %s", msg);
		return fd;
	}
	if (fstat(fd, &st)) {
		r = -errno;
		close(fd);
		snprintf(err, errsz, "cannot stat seal key %s: %s", path, strerror(-r));
		return r;
	}
	/* A key others can read is a key others have: refuse, do not fix. */
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077) || st.st_uid != geteuid()) {
		close(fd);
		snprintf(err, errsz, "refusing seal key %s: it must be a regular file owned by uid %u "
			 "with mode 0600 (it is %04o, uid %u)", path, (unsigned)geteuid(),
			 (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid);
		return -EPERM;
	}
	{
		/* One byte spare tells an overlong file from a 32-byte one. */
		unsigned char buf[SEAL_KEY_LEN + 1];
		n = read(fd, buf, sizeof(buf));
		if (n == SEAL_KEY_LEN)
			memcpy(key->k, buf, SEAL_KEY_LEN);
		explicit_bzero(buf, sizeof(buf));
	}
	close(fd);
	if (n != SEAL_KEY_LEN) {
		seal_key_wipe(key);
		snprintf(err, errsz, "seal key %s must be exactly %d bytes", path, SEAL_KEY_LEN);
		return -EINVAL;
	}
	return 0;
}

void seal_key_wipe(struct seal_key *key)
{
	explicit_bzero(key->k, sizeof(key->k));
}

int seal_encrypt(const struct seal_key *key, const void *aad, size_t aadlen,
		 const void *pt, size_t n, unsigned char *out, size_t *outlen)
{
	EVP_CIPHER_CTX *c;
	unsigned char *nonce = out + 1, *ct = out + 1 + SEAL_NONCE_LEN;
	int len = 0, fin = 0, ok, r;

	if (n > (1u << 20))
		return -E2BIG;
	if ((r = fill_random(nonce, SEAL_NONCE_LEN)))
		return r;
	out[0] = 1;
	if (!(c = EVP_CIPHER_CTX_new()))
		return -ENOMEM;
	ok = EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key->k, nonce) == 1 &&
	     (!aadlen || EVP_EncryptUpdate(c, NULL, &len, aad, (int)aadlen) == 1) &&
	     EVP_EncryptUpdate(c, ct, &len, pt, (int)n) == 1 &&
	     EVP_EncryptFinal_ex(c, ct + len, &fin) == 1 &&
	     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN, ct + len + fin) == 1;
	EVP_CIPHER_CTX_free(c);
	if (!ok)
		return -EIO;
	*outlen = 1 + SEAL_NONCE_LEN + (size_t)len + fin + SEAL_TAG_LEN;
	return 0;
}

int seal_decrypt(const struct seal_key *key, const void *aad, size_t aadlen,
		 const unsigned char *blob, size_t bloblen, unsigned char *out, size_t *outlen)
{
	EVP_CIPHER_CTX *c;
	const unsigned char *nonce = blob + 1, *ct = blob + 1 + SEAL_NONCE_LEN;
	size_t ctlen;
	int len = 0, fin = 0, ok;

	if (bloblen < SEAL_OVERHEAD || blob[0] != 1)
		return -EBADMSG;
	ctlen = bloblen - SEAL_OVERHEAD;
	if (!(c = EVP_CIPHER_CTX_new()))
		return -ENOMEM;
	ok = EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key->k, nonce) == 1 &&
	     (!aadlen || EVP_DecryptUpdate(c, NULL, &len, aad, (int)aadlen) == 1) &&
	     EVP_DecryptUpdate(c, out, &len, ct, (int)ctlen) == 1 &&
	     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_LEN, (void *)(ct + ctlen)) == 1 &&
	     EVP_DecryptFinal_ex(c, out + len, &fin) == 1;
	EVP_CIPHER_CTX_free(c);
	if (!ok) {
		explicit_bzero(out, ctlen);
		return -EBADMSG;
	}
	*outlen = (size_t)len + fin;
	return 0;
}

void seal_key_default_path(const char *ledger_path, char *out, size_t outsz)
{
	const char *e = getenv(SEAL_KEY_ENV);
	char *copy;

	if (e && *e) {
		snprintf(out, outsz, "%s", e);
		return;
	}
	copy = strdup(ledger_path);
	snprintf(out, outsz, "%s/seal.key", copy ? dirname(copy) : ".");
	free(copy);
}
