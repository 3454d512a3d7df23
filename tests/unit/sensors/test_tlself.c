/* Tests for user/sensors/tlself.c: the file offset of a TLS write function
 * is the one the kernel's uprobe needs (checked against where this very
 * process has the function mapped), imports are not definitions, Go's
 * symbol is found by its full name, and a non-ELF file is refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "sensors/tlself.h"

/* Functions named as the TLS libraries' are, defined in this binary. */
__attribute__((noinline, used)) int SSL_write(void *ssl, const void *buf, int num)
{
	return ssl && buf ? num : -1;
}
/* Go's name cannot be a C identifier: the assembler takes it quoted, and
 * a plain alias at the same address gives C its address. */
__asm__(".text\n"
	".globl \"crypto/tls.(*Conn).Write\"\n"
	".type \"crypto/tls.(*Conn).Write\", @function\n"
	".globl go_conn_write\n"
	".type go_conn_write, @function\n"
	"go_conn_write:\n"
	"\"crypto/tls.(*Conn).Write\":\n"
	"\tret\n"
	".size \"crypto/tls.(*Conn).Write\", . - go_conn_write\n"
	".size go_conn_write, . - go_conn_write\n");
void go_conn_write(void);

/* The file offset of @addr in this process, from /proc/self/maps; and the
 * path of the first mapped file whose name contains @name. */
static uint64_t self_offset(const void *addr)
{
	unsigned long lo, hi, off;
	char line[512];
	uint64_t r = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %*s %lx", &lo, &hi, &off) == 3 &&
		    (unsigned long)addr >= lo && (unsigned long)addr < hi)
			r = (unsigned long)addr - lo + off;
	fclose(f);
	return r;
}

static int self_mapped(const char *name, char *out, size_t n)
{
	char line[512], *p;
	FILE *f = fopen("/proc/self/maps", "r");
	int found = 0;

	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f))
		if ((p = strchr(line, '/')) && strstr(p, name)) {
			p[strcspn(p, "\n")] = 0;
			snprintf(out, n, "%s", p);
			found = 1;
		}
	fclose(f);
	return found;
}

static void scan_path(const char *path, struct tlself_result *r, int want)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(tlself_scan(fd, r), want);
	close(fd);
}

static void test_offsets_are_the_uprobe_offsets(void **state)
{
	struct tlself_result r;
	(void)state;
	assert_int_equal(SSL_write(&r, &r, 3), 3);
	go_conn_write();
	scan_path("/proc/self/exe", &r, 0);
	assert_true(r.found & (1u << TLSELF_SSL_WRITE));
	assert_true(r.found & (1u << TLSELF_GO_WRITE));
	assert_false(r.found & (1u << TLSELF_GNUTLS_SEND));
	assert_int_equal(r.off[TLSELF_SSL_WRITE], self_offset((const void *)SSL_write));
	assert_int_equal(r.off[TLSELF_GO_WRITE], self_offset((const void *)go_conn_write));
	assert_false(r.flags & TLSELF_F_GO);
}

/* libcurl (loaded here, with the libssl it needs) imports SSL_write;
 * libssl defines it. */
static void test_import_is_not_a_definition(void **state)
{
	struct tlself_result r;
	char path[512];
	(void)state;
	(void)dlopen("libcurl.so.4", RTLD_LAZY);
	if (!self_mapped("libcurl", path, sizeof(path)) || !strstr(path, "libcurl.so")) {
		print_message("no OpenSSL libcurl mapped: skipped\n");
		skip();
	}
	scan_path(path, &r, 0);
	assert_int_equal(r.found, 0);
	if (!self_mapped("/libssl.so", path, sizeof(path)))
		skip();
	scan_path(path, &r, 0);
	assert_true(r.found & (1u << TLSELF_SSL_WRITE));
	assert_true(r.found & (1u << TLSELF_SSL_WRITE_EX));
	assert_true(r.off[TLSELF_SSL_WRITE] != 0);
	assert_true(r.off[TLSELF_SSL_WRITE] != r.off[TLSELF_SSL_WRITE_EX]);
}

static void test_not_elf_refused(void **state)
{
	char path[] = "/tmp/tw-tlself.XXXXXX";
	struct tlself_result r;
	int fd = mkstemp(path);
	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(tlself_scan(fd, &r), -ENOEXEC); /* empty */
	assert_int_equal(write(fd, "\x7f" "ELF but not really, just text\n", 31), 31);
	assert_int_equal(tlself_scan(fd, &r), -ENOEXEC);
	assert_int_equal(r.found, 0);
	close(fd);
	unlink(path);
}

/* A Go 1.18 function table of three functions, built here. */
static size_t make_pclntab(unsigned char *p, size_t cap)
{
	static const char *const names[] = { "main.main", "crypto/tls.(*Conn).Write", "x" };
	const uint64_t nfunc = 3, text = 0x401000, nameoff = 72, pcln = 160;
	uint64_t hdr[8] = { nfunc, 0, text, nameoff, 0, 0, 0, pcln };
	uint32_t magic = 0xfffffff0, off = 0;

	assert_true(cap >= 256);
	memset(p, 0, cap);
	memcpy(p, &magic, 4);
	p[7] = 8;
	memcpy(p + 8, hdr, sizeof(hdr));
	for (uint32_t i = 0; i < nfunc; i++) {
		uint32_t entry = 0x100 * (i + 1), func = 40 + 8 * i; /* _func after the table */

		memcpy(p + pcln + 8 * i, &entry, 4);
		memcpy(p + pcln + 8 * i + 4, &func, 4);
		memcpy(p + pcln + func, &entry, 4);
		memcpy(p + pcln + func + 4, &off, 4);
		memcpy(p + nameoff + off, names[i], strlen(names[i]) + 1);
		off += strlen(names[i]) + 1;
	}
	return 256;
}

static void test_gopclntab_found_and_bounded(void **state)
{
	unsigned char p[256];
	uint64_t va = 0;
	size_t n = make_pclntab(p, sizeof(p));
	(void)state;
	assert_int_equal(tlself_gopclntab_find(p, n, "crypto/tls.(*Conn).Write", &va), 0);
	assert_int_equal(va, 0x401000 + 0x200);
	assert_int_equal(tlself_gopclntab_find(p, n, "crypto/tls.(*Conn).Read", &va), -ENOENT);
	assert_int_equal(tlself_gopclntab_find(p, n, "crypto/tls.(*Conn).Writ", &va), -ENOENT);
	/* hostile: cut short, a huge function count, offsets past the end */
	assert_int_equal(tlself_gopclntab_find(p, 64, "x", &va), -EINVAL);
	assert_int_equal(tlself_gopclntab_find(p, 170, "crypto/tls.(*Conn).Write", &va), -EINVAL);
	p[8] = 0xff, p[9] = 0xff, p[10] = 0xff;
	assert_int_equal(tlself_gopclntab_find(p, n, "x", &va), -EINVAL);
	make_pclntab(p, sizeof(p));
	p[160 + 12] = 0xff, p[160 + 13] = 0xff; /* the second _func's offset */
	memset(p + 160 + 56 + 4, 0xff, 4);       /* the third _func's name offset */
	assert_int_equal(tlself_gopclntab_find(p, n, "crypto/tls.(*Conn).Write", &va), -ENOENT);
	assert_int_equal(tlself_gopclntab_find(p, n, "x", &va), -ENOENT);
	p[0] = 0xfa; /* Go 1.16's magic: not understood */
	assert_int_equal(tlself_gopclntab_find(p, n, "main.main", &va), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offsets_are_the_uprobe_offsets),
		cmocka_unit_test(test_import_is_not_a_definition),
		cmocka_unit_test(test_not_elf_refused),
		cmocka_unit_test(test_gopclntab_found_and_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
