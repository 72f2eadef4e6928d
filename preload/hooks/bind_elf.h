/* What bind.c reads of a loaded object, shared with late.c, which repoints the same kind of
 * references (to the allocator rather than to codec functions). */
#ifndef IMGLEAK_BIND_ELF_H
#define IMGLEAK_BIND_ELF_H

#include <link.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__)
#define R_JUMP_SLOT R_X86_64_JUMP_SLOT
#define R_GLOB_DAT R_X86_64_GLOB_DAT
#define R_ABS64 R_X86_64_64
#elif defined(__aarch64__)
#define R_JUMP_SLOT R_AARCH64_JUMP_SLOT
#define R_GLOB_DAT R_AARCH64_GLOB_DAT
#define R_ABS64 R_AARCH64_ABS64
#else
#error "the binder needs this architecture's relocation types"
#endif

/* What the binder reads of one loaded object, from its dynamic section. */
typedef struct {
    uintptr_t base;
    const char *path;
    const ElfW(Phdr) *phdr;
    unsigned phnum;
    ElfW(Sym) *symtab;
    const char *strtab;
    size_t strsz;
    const ElfW(Versym) *versym;
    size_t nsyms;
    const ElfW(Rela) *rela[2]; /* DT_RELA, DT_JMPREL */
    size_t rela_count[2];
} elf_object_t;

/* 0, or -1 for an object without a symbol table (the vDSO may lack one). */
int object_read(const struct dl_phdr_info *info, elf_object_t *o);
/* Stores one word into the object atomically, opening a read-only (RELRO, when relocated) page
 * for the moment of the store. 0, or -1. Needs bind_start(1) to have run (the page size). */
int object_write(const elf_object_t *o, uintptr_t *slot, uintptr_t value, int relocated);
/* Calls visit for every slot of the object that a relocation fills with a named symbol's address
 * (JUMP_SLOT, GLOB_DAT, and ABS64 without an addend): its name, its relocation type and where
 * the address is stored. */
void object_foreach_slot(const elf_object_t *o,
                         void (*visit)(const elf_object_t *o, const char *name, unsigned type,
                                       uintptr_t *slot, void *ctx),
                         void *ctx);

#endif
