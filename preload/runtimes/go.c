/* Goroutine frames above a cgo call (see go.h), amd64.
 *
 * What runtime.asmcgocall leaves (runtime/asm_amd64.s): it saves the goroutine's frame pointer in
 * g.sched.bp (gosave_systemstack_switch), switches to the thread's g0 stack and stores there the
 * goroutine's stack depth (g.stack.hi minus its SP at entry) and the g (0 when it was already on
 * a system stack), then calls the C function. Where those two words sit moved between releases:
 * 40(SP) and 48(SP) up to Go 1.22, 0(SP) and 8(SP) from 1.23 (asmcgocall_landingpad, which
 * tail-calls C, so the C function still returns into asmcgocall). They are read from the code
 * itself, once: the instructions after the call reload them ("MOVQ off(SP), DI" for g, then
 * "SUBQ off(SP), SI" for the depth). From the slot holding the return address:
 *   g = slot[1 + g_off / 8], depth = slot[1 + depth_off / 8]; the goroutine's SP at entry is
 *   g.stack.hi - depth. Up to 1.20 asmcgocall has no frame: the word at that SP is the return
 *   into runtime.cgocall and g.sched.bp is cgocall's frame. From 1.21 the assembler gives it one
 *   (PUSHQ BP): g.sched.bp is that SP, and the frame chain starts there. Either way, each frame
 *   holds the caller's BP at 0(BP) and its return address at 8(BP).
 * g's fields are at fixed offsets in runtime2.go (1.19 to 1.24): stack {lo, hi} at 0, sched
 * (gobuf: sp pc g ctxt ret lr bp) at 56, so sched.bp at 104. g itself is read with
 * process_vm_readv (a bad pointer gives EFAULT, not a crash); everything after is checked to lie
 * in [stack.lo, stack.hi).
 *
 * The slot is found with libunwind's cursor (the SP of the frame that returns into asmcgocall)
 * the first time on each thread; a thread's g0 stack does not move, so after that a compare of
 * one word at the remembered place says whether it still holds. */
#define _GNU_SOURCE
#include "go.h"

#include "maps.h"
#include "os.h"
#include "stacks.h"
#include "table.h"

#define UNW_LOCAL_ONLY
#include <elf.h>
#include <fcntl.h>
#include <libunwind.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define G_STACK_LO 0
#define G_STACK_HI 8
#define G_SCHED_BP 104
#define GO_STACK_MAX (UINT64_C(1) << 30) /* runtime.maxstacksize on 64-bit */

static uint64_t asmcgocall_lo, asmcgocall_hi;
/* The return address of asmcgocall's call into C on a goroutine's behalf, and the words above it
 * that hold g and the depth (0 when the code was not recognised: no Go frames then) */
static uint64_t cgo_return;
static unsigned g_slot, depth_slot;
static uint64_t cgo_mmap_lo, cgo_mmap_hi; /* runtime/cgo's mmap: all the runtime's mappings */
static __thread uint64_t *cached_slot; /* where this thread's asmcgocall return address lives */
/* g's read safely before on this thread: the runtime never frees a g (allgs keeps them all for
 * reuse), so one that was readable stays readable, and is then read without a system call */
#define KNOWN_G 8
static __thread uint64_t known_g[KNOWN_G];
static __thread unsigned known_next;

/* The executable's load bias: 0 for a fixed-address (ET_EXEC) Go binary, else a PIE's base. */
static int first_module(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    *(uint64_t *)data = info->dlpi_addr;
    return 1;
}

/* [*lo, *hi) of the function name in the symbol table; Go's assembly symbols can have size 0,
 * and then the next 256 bytes are taken (enough for what is looked up here). */
static void find_symbol(const unsigned char *elf, size_t size, uint64_t bias, const char *want,
                        uint64_t *lo, uint64_t *hi)
{
    const Elf64_Ehdr *eh = (const void *)elf;
    size_t len = strlen(want) + 1;
    if (size < sizeof *eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
        eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_shoff + (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr) > size)
        return;
    const Elf64_Shdr *sh = (const void *)(elf + eh->e_shoff);
    for (unsigned i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum)
            continue;
        const Elf64_Shdr *strs = &sh[sh[i].sh_link];
        if (sh[i].sh_offset + sh[i].sh_size > size || strs->sh_offset + strs->sh_size > size)
            return;
        const Elf64_Sym *sym = (const void *)(elf + sh[i].sh_offset);
        const char *names = (const char *)elf + strs->sh_offset;
        for (size_t k = 0; k < sh[i].sh_size / sizeof *sym; k++) {
            if (sym[k].st_name + len > strs->sh_size || !sym[k].st_value ||
                memcmp(names + sym[k].st_name, want, len) != 0)
                continue;
            *lo = sym[k].st_value + bias;
            *hi = *lo + (sym[k].st_size ? sym[k].st_size : 256);
            return;
        }
    }
}

/* "MOVQ off(SP), reg" or "SUBQ off(SP), reg" at code, 64-bit, off 0 or an 8-bit displacement:
 * the length of the instruction and *off, or 0 when it is not that. opcode 0x8b is MOV, 0x2b
 * SUB; reg is the ModRM reg field (7 DI, 6 SI). */
static unsigned decode_sp_load(const unsigned char *code, unsigned char opcode, unsigned reg,
                               unsigned *off)
{
    if (code[0] != 0x48 || code[1] != opcode || code[3] != 0x24) /* REX.W, op, ..., SIB = (SP) */
        return 0;
    if (code[2] == (0x04 | reg << 3)) { /* mod 00: no displacement */
        *off = 0;
        return 4;
    }
    if (code[2] == (0x44 | reg << 3) && code[4] < 0x80) { /* mod 01: disp8 */
        *off = code[4];
        return 5;
    }
    return 0;
}

/* Finds, in asmcgocall's code, the call into C on a goroutine's behalf: the CALL (E8 rel32 or
 * FF D0) followed by "MOVQ g_off(SP), DI; MOVQ 8(DI), SI; SUBQ depth_off(SP), SI" (g, then
 * g.stack.hi minus the depth: the goroutine's SP back). */
static void find_cgo_call(void)
{
    const unsigned char *code = (const unsigned char *)(uintptr_t)asmcgocall_lo;
    size_t size = asmcgocall_hi - asmcgocall_lo;
    static const unsigned char stack_hi[] = {0x48, 0x8b, 0x77, 0x08}; /* MOVQ 8(DI), SI */
    for (size_t at = 2; at + 18 <= size; at++) {
        if (!((code[at - 2] == 0xff && code[at - 1] == 0xd0) ||
              (at >= 5 && code[at - 5] == 0xe8)))
            continue;
        unsigned g_off, depth_off, n = decode_sp_load(code + at, 0x8b, 7, &g_off);
        if (!n || memcmp(code + at + n, stack_hi, sizeof stack_hi) != 0 ||
            !decode_sp_load(code + at + n + sizeof stack_hi, 0x2b, 6, &depth_off) ||
            (g_off | depth_off) & 7)
            continue;
        cgo_return = asmcgocall_lo + at;
        g_slot = 1 + g_off / 8;
        depth_slot = 1 + depth_off / 8;
        return;
    }
}

void go_init(void)
{
    /* raw system calls: the interposed mmap would record this as the program's */
    int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/exe", O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return;
    if (fstat(fd, &st) == 0 && st.st_size > (off_t)sizeof(Elf64_Ehdr)) {
        void *elf = (void *)syscall(SYS_mmap, NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (elf != MAP_FAILED) {
            uint64_t bias = 0;
            if (((const Elf64_Ehdr *)elf)->e_type == ET_DYN)
                dl_iterate_phdr(first_module, &bias);
            /* the assembly body is runtime.asmcgocall.abi0 since Go 1.17 (runtime.asmcgocall
             * is then a wrapper), runtime.asmcgocall before */
            find_symbol(elf, (size_t)st.st_size, bias, "runtime.asmcgocall.abi0", &asmcgocall_lo,
                        &asmcgocall_hi);
            if (!asmcgocall_lo)
                find_symbol(elf, (size_t)st.st_size, bias, "runtime.asmcgocall", &asmcgocall_lo,
                            &asmcgocall_hi);
            find_symbol(elf, (size_t)st.st_size, bias, "x_cgo_mmap", &cgo_mmap_lo, &cgo_mmap_hi);
            syscall(SYS_munmap, elf, (size_t)st.st_size);
        }
    }
    close(fd);
    if (asmcgocall_lo)
        find_cgo_call();
    if (asmcgocall_lo)
        os_log("go: runtime.asmcgocall at %p, its call into C returns to %p (g at +%u, depth at "
               "+%u words)", (void *)(uintptr_t)asmcgocall_lo, (void *)(uintptr_t)cgo_return,
               g_slot, depth_slot);
}

int go_is_cgo_return(uint64_t addr)
{
    return addr - asmcgocall_lo < asmcgocall_hi - asmcgocall_lo;
}

/* The slot holding ret on this thread's g0 stack: remembered, or found by stepping libunwind's
 * cursor to the frame that returns into asmcgocall. */
__attribute__((cold, noinline)) static uint64_t *find_slot(uint64_t ret)
{
    unw_context_t ctx;
    unw_cursor_t cur;
    if (unw_getcontext(&ctx) < 0 || unw_init_local(&cur, &ctx) < 0)
        return NULL;
    for (int i = 0; i < 512 && unw_step(&cur) > 0; i++) {
        unw_word_t ip, sp;
        if (unw_get_reg(&cur, UNW_REG_IP, &ip) < 0 || ip != ret)
            continue;
        if (unw_get_reg(&cur, UNW_REG_SP, &sp) < 0)
            return NULL;
        uint64_t *slot = (uint64_t *)(uintptr_t)(sp - 8);
        return *slot == ret ? slot : NULL;
    }
    return NULL;
}

static uint64_t *slot_for(uint64_t ret)
{
    uint64_t *slot = cached_slot;
    /* above this frame (a live part of the stack) and holding the return address */
    if (slot && (uintptr_t)slot > (uintptr_t)&slot && *slot == ret)
        return slot;
    slot = find_slot(ret);
    if (slot)
        cached_slot = slot;
    return slot;
}

/* The first bytes of g, read without faulting: 1, or 0 when g is not readable memory. */
static int read_g(uint64_t g, uint64_t *head, size_t size)
{
    for (unsigned i = 0; i < KNOWN_G; i++)
        if (known_g[i] == g) {
            memcpy(head, (const void *)(uintptr_t)g, size);
            return 1;
        }
    struct iovec local = {head, size}, remote = {(void *)(uintptr_t)g, size};
    if (syscall(SYS_process_vm_readv, getpid(), &local, 1, &remote, 1, 0) != (long)size)
        return 0;
    known_g[known_next++ % KNOWN_G] = g;
    return 1;
}

unsigned go_append_frames(uint64_t *frames, unsigned depth, unsigned max, int *truncated)
{
    if (depth == 0 || depth >= max || !cgo_return || frames[depth - 1] != cgo_return)
        return depth;
    uint64_t *slot = slot_for(frames[depth - 1]);
    if (!slot)
        return depth;
    uint64_t g = slot[g_slot], stack_depth = slot[depth_slot];
    uint64_t head[G_SCHED_BP / 8 + 1];
    if (!g || !read_g(g, head, sizeof head))
        return depth;
    uint64_t lo = head[G_STACK_LO / 8], hi = head[G_STACK_HI / 8], bp = head[G_SCHED_BP / 8];
    uint64_t sp = hi - stack_depth;
    if (lo >= hi || hi - lo > GO_STACK_MAX || stack_depth == 0 || stack_depth > hi - lo || (sp & 7))
        return depth;
    /* without a frame of its own (up to Go 1.20), asmcgocall's return into runtime.cgocall is
     * at the SP; with one, the chain below starts at that frame and holds it */
    if (bp != sp)
        frames[depth++] = *(const uint64_t *)(uintptr_t)sp;
    uint64_t floor = sp;
    while (depth < max && bp >= floor && bp + 16 <= hi && !(bp & 7)) {
        const uint64_t *frame = (const uint64_t *)(uintptr_t)bp;
        if (frame[1] == 0)
            return depth;
        frames[depth++] = frame[1];
        floor = bp + 16; /* callers' frames are above: the chain only climbs */
        bp = frame[0];
    }
    if (depth == max && bp >= floor && bp + 16 <= hi)
        *truncated = 1;
    return depth;
}

/* Resident 4 KiB pages of one mapping the Go runtime made (its caller is x_cgo_mmap). */
static void count_resident(const map_rec_t *m, void *ctx)
{
    stack_view_t st;
    if (!stacks_get(m->stack_id, &st) || st.depth == 0 ||
        st.frames[0] - cgo_mmap_lo >= cgo_mmap_hi - cgo_mmap_lo)
        return;
    unsigned char vec[4096];
    long page = sysconf(_SC_PAGESIZE);
    uint64_t *pages = ctx;
    for (uint64_t at = m->start, end = m->start + m->length; at < end;) {
        uint64_t chunk = end - at < sizeof vec * (uint64_t)page ? end - at : sizeof vec * (uint64_t)page;
        if (mincore((void *)(uintptr_t)at, chunk, vec) < 0)
            return;
        for (uint64_t i = 0; i < (chunk + (uint64_t)page - 1) / (uint64_t)page; i++)
            *pages += (vec[i] & 1) * ((uint64_t)page / 4096); /* in 4 KiB pages */
        at += chunk;
    }
}

uint32_t go_resident_pages(void)
{
    uint64_t pages = 0;
    if (cgo_mmap_lo)
        maps_foreach(count_resident, &pages);
    return pages > UINT32_MAX ? UINT32_MAX : (uint32_t)pages;
}

/* ---- C blocks the Go heap points to ----
 * Every word of the runtime's resident pages that is the start of a live C heap block: such a
 * block counts as reachable under the conservative scan, even when only a dead Go object or a
 * finished goroutine's stack still holds it. Counted once each (a set of addresses in memory of
 * the shim's own); pages are read with process_vm_readv, so a page that cannot be read is
 * skipped, never faulted on. */

typedef struct {
    uint64_t *seen; /* open addressing; 0 is empty */
    size_t mask;
    uint32_t blocks;
    uint64_t words[8192]; /* what one read brings */
} c_refs_t;

static void note_block(c_refs_t *c, uint64_t addr)
{
    live_info_t info;
    if (addr < 4096 || (addr & 7) || !table_lookup(addr, &info))
        return;
    for (size_t i = (addr >> 4) * 0x9E3779B97F4A7C15u & c->mask;; i = (i + 1) & c->mask) {
        if (c->seen[i] == addr)
            return;
        if (c->seen[i] == 0) {
            c->seen[i] = addr;
            c->blocks++;
            return;
        }
    }
}

static void scan_range(c_refs_t *c, uint64_t at, uint64_t len)
{
    pid_t self = getpid();
    while (len > 0 && c->blocks <= c->mask / 2) {
        size_t n = len < sizeof c->words ? (size_t)len : sizeof c->words;
        struct iovec local = {c->words, n}, remote = {(void *)(uintptr_t)at, n};
        ssize_t got = syscall(SYS_process_vm_readv, self, &local, 1, &remote, 1, 0);
        for (ssize_t i = 0; i < got / 8; i++)
            note_block(c, c->words[i]);
        at += n;
        len -= n;
    }
}

/* The resident runs of one of the runtime's mappings, scanned. */
static void scan_mapping(const map_rec_t *m, void *ctx)
{
    stack_view_t st;
    if (!stacks_get(m->stack_id, &st) || st.depth == 0 ||
        st.frames[0] - cgo_mmap_lo >= cgo_mmap_hi - cgo_mmap_lo)
        return;
    unsigned char vec[4096];
    const uint64_t page = 4096, span = sizeof vec * page;
    for (uint64_t at = m->start, end = m->start + m->length; at < end; at += span) {
        uint64_t chunk = end - at < span ? end - at : span;
        if (mincore((void *)(uintptr_t)at, chunk, vec) < 0)
            return;
        for (uint64_t i = 0; i < chunk / page; i++)
            if (vec[i] & 1)
                scan_range(ctx, at + i * page, page);
    }
}

uint32_t go_heap_c_blocks(void)
{
    if (!cgo_mmap_lo || table_live() == 0)
        return 0;
    size_t slots = 64;
    while (slots < table_live() * 2)
        slots *= 2;
    size_t bytes = sizeof(c_refs_t) + slots * sizeof(uint64_t);
    c_refs_t *c = os_map(bytes);
    if (!c)
        return 0;
    c->seen = (uint64_t *)(c + 1);
    c->mask = slots - 1;
    maps_foreach(scan_mapping, c);
    uint32_t blocks = c->blocks;
    os_unmap(c, bytes);
    return blocks;
}
