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

int tlself_scan(int fd, struct tlself_result *out)
{
	Elf_Scn *scn = NULL;
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
		}
	}
	if ((out->flags & TLSELF_F_GO) && !have_symtab)
		out->flags |= TLSELF_F_GO_STRIPPED;
	elf_end(e);
	return 0;
}
