/*
 * TLS write functions in an ELF file (tlself.h). libelf reads the file
 * through mmap, so a 100 MB node binary costs its section headers and its
 * symbol tables, not a read of the whole file.
 */
#include <errno.h>
#include <string.h>
#include <gelf.h>
#include <libelf.h>
#include "sensors/tlself.h"

static const char *const fn_names[TLSELF_NFN] = {
	[TLSELF_SSL_WRITE] = "SSL_write",
	[TLSELF_SSL_WRITE_EX] = "SSL_write_ex",
	[TLSELF_GNUTLS_SEND] = "gnutls_record_send",
	[TLSELF_GO_WRITE] = "crypto/tls.(*Conn).Write",
};

const char *tlself_name(enum tlself_fn fn)
{
	return fn < TLSELF_NFN ? fn_names[fn] : "?";
}

/* A virtual address as a file offset, through the loadable segment that
 * holds it: what a uprobe's offset means. 0 when no segment does. */
static uint64_t vaddr_to_off(Elf *e, uint64_t va)
{
	size_t n;
	GElf_Phdr ph;

	if (elf_getphdrnum(e, &n))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_LOAD && (ph.p_flags & PF_X) &&
		    va >= ph.p_vaddr && va < ph.p_vaddr + ph.p_filesz)
			return va - ph.p_vaddr + ph.p_offset;
	return 0;
}

/* Defined functions of one symbol table whose names we look for. */
static void scan_symtab(Elf *e, Elf_Scn *scn, const GElf_Shdr *sh, struct tlself_result *r)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t n = sh->sh_entsize ? sh->sh_size / sh->sh_entsize : 0;
	GElf_Sym sym;

	for (size_t i = 0; d && i < n; i++) {
		const char *name;

		if (!gelf_getsym(d, (int)i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
		    sym.st_shndx == SHN_UNDEF || !sym.st_value)
			continue;
		if (!(name = elf_strptr(e, sh->sh_link, sym.st_name)) || !*name)
			continue;
		for (int f = 0; f < TLSELF_NFN; f++) {
			uint64_t off;

			if ((r->found & (1u << f)) || strcmp(name, fn_names[f]))
				continue;
			if ((off = vaddr_to_off(e, sym.st_value))) {
				r->off[f] = off;
				r->found |= 1u << f;
			}
		}
	}
}

static uint64_t le64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint32_t le32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/*
 * Go 1.18+'s pcHeader: magic (0xfffffff0; 0xfffffff1 from 1.20), two pad
 * bytes, minLC, ptrSize, then nfunc, nfiles, textStart, funcnameOffset,
 * cuOffset, filetabOffset, pctabOffset, pclnOffset (8 bytes each). The
 * function table at pclnOffset is nfunc pairs (entry offset from
 * textStart, offset of the _func); a _func starts with its entry offset
 * and the offset of its name in the name table.
 */
int tlself_gopclntab_find(const unsigned char *p, size_t n, const char *name, uint64_t *va)
{
	uint64_t nfunc, text, names, pcln;
	size_t want = strlen(name) + 1;
	uint32_t magic;

	if (n < 72)
		return -EINVAL;
	magic = le32(p);
	if ((magic != 0xfffffff0 && magic != 0xfffffff1) || p[7] != 8)
		return -EINVAL;
	nfunc = le64(p + 8);
	text = le64(p + 24);
	names = le64(p + 32);
	pcln = le64(p + 64);
	if (pcln > n || names > n || nfunc > (n - pcln) / 8)
		return -EINVAL;
	for (uint64_t i = 0; i < nfunc; i++) {
		uint64_t func = pcln + le32(p + pcln + i * 8 + 4), off;

		if (func > n - 8)
			continue;
		off = names + le32(p + func + 4);
		if (off >= n || n - off < want || memcmp(p + off, name, want))
			continue;
		*va = text + le32(p + pcln + i * 8);
		return 0;
	}
	return -ENOENT;
}

/* A stripped Go binary's crypto/tls.(*Conn).Write, from .gopclntab: 0 when
 * found (or absent from a table understood), -1 when not understood. */
static int scan_gopclntab(Elf *e, Elf_Scn *scn, struct tlself_result *r)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	uint64_t va, off;
	int err;

	if (!d || !d->d_buf)
		return -1;
	err = tlself_gopclntab_find(d->d_buf, d->d_size, fn_names[TLSELF_GO_WRITE], &va);
	if (err == -EINVAL)
		return -1;
	if (!err && (off = vaddr_to_off(e, va))) {
		r->off[TLSELF_GO_WRITE] = off;
		r->found |= 1u << TLSELF_GO_WRITE;
	}
	return 0;
}

int tlself_scan(int fd, struct tlself_result *out)
{
	Elf_Scn *scn = NULL, *pcln = NULL;
	int have_symtab = 0;
	size_t shstr;
	GElf_Shdr sh;
	Elf *e;

	memset(out, 0, sizeof(*out));
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOEXEC;
	e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!e || elf_kind(e) != ELF_K_ELF || elf_getshdrstrndx(e, &shstr)) {
		elf_end(e);
		return -ENOEXEC;
	}
	while ((scn = elf_nextscn(e, scn))) {
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_SYMTAB || sh.sh_type == SHT_DYNSYM) {
			have_symtab |= sh.sh_type == SHT_SYMTAB;
			scan_symtab(e, scn, &sh, out);
		} else if ((name = elf_strptr(e, shstr, sh.sh_name)) &&
			   (!strcmp(name, ".go.buildinfo") || !strcmp(name, ".gopclntab"))) {
			out->flags |= TLSELF_F_GO;
			if (name[3] == 'p')
				pcln = scn;
		}
	}
	if ((out->flags & TLSELF_F_GO) && !have_symtab && (!pcln || scan_gopclntab(e, pcln, out)))
		out->flags |= TLSELF_F_GO_STRIPPED;
	elf_end(e);
	return 0;
}
