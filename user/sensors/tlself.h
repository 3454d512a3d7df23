/*
 * Which TLS write functions an ELF file defines, and where: the file
 * offsets a uprobe is placed at. A shared library (libssl, libgnutls), or
 * an executable that links its TLS stack in: node's OpenSSL (exported), a
 * BoringSSL or OpenSSL whose symbols are in .symtab, Go's crypto/tls
 * (in .symtab, or for a stripped Go 1.18+ binary in .gopclntab, Go's own
 * function table).
 */
#ifndef TW_TLSELF_H
#define TW_TLSELF_H

#include <stdint.h>

enum tlself_fn {
	TLSELF_SSL_WRITE,    /* SSL_write: OpenSSL 1.1, 3, BoringSSL */
	TLSELF_SSL_WRITE_EX, /* SSL_write_ex: OpenSSL 1.1.1 and 3 */
	TLSELF_GNUTLS_SEND,  /* gnutls_record_send */
	TLSELF_GO_WRITE,     /* crypto/tls.(*Conn).Write (Go's register ABI, 1.17+) */
	TLSELF_NFN,
};

#define TLSELF_F_GO          (1u << 0) /* a Go binary (.go.buildinfo or .gopclntab) */
#define TLSELF_F_GO_STRIPPED (1u << 1) /* ... without .symtab, and a .gopclntab not
					* understood (before Go 1.18): not probed */

struct tlself_result {
	uint64_t off[TLSELF_NFN]; /* file offset of each function; 0: not defined here */
	unsigned found;           /* bit i set when off[i] is */
	unsigned flags;           /* TLSELF_F_* */
};

/* The symbol name looked up for @fn. */
const char *tlself_name(enum tlself_fn fn);
/* Read the ELF file open on @fd (not moved, not closed) for the TLS write
 * functions it defines (imports do not count). 0, or -ENOEXEC when it is
 * not a readable ELF file. */
int tlself_scan(int fd, struct tlself_result *out);
/* In a Go 1.18+ function table (the bytes of .gopclntab, little-endian,
 * 64-bit), the entry address of function @name: 0 and *va set, -ENOENT
 * when absent, -EINVAL when the table is not one (every offset in it is
 * checked against @n). */
int tlself_gopclntab_find(const unsigned char *p, size_t n, const char *name, uint64_t *va);

#endif
