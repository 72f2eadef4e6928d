/* The trampolines of declared handle functions (declared.c), whose signatures imgleak does not
 * know: one 16-byte stub per slot loads its slot number into r11 (no argument travels there) and
 * jumps to one common body, which
 *   - saves every argument register (rdi rsi rdx rcx r8 r9, rax for a variadic callee's vector
 *     count, xmm0-7) and calls declared_before, which records a destroy (or notes where a create's
 *     handle will be) and returns the real function of the instance bound now (0: none);
 *   - copies the caller's first DECLARED_STACK_WORDS stack words below its own frame, restores the
 *     registers and calls the real function, which so finds its arguments exactly where the
 *     caller put them;
 *   - saves what the callee returned (rax rdx xmm0 xmm1), calls declared_after for a create, and
 *     returns that to the caller.
 * A real frame with CFI rather than a swapped return address: a longjmp or a C++ exception out of
 * the callee unwinds through it like through any C function, and libunwind's stacks of the
 * callee's mallocs go on through it to the program. The frame is 16-byte aligned at both calls;
 * the red zone is free at a function's entry. x86-64 only; on other machines declared.c refuses
 * declarations. */
#if defined(__x86_64__)

#define STACK_WORDS 32       /* keep in step with DECLARED_STACK_WORDS in declared.h */
#define SLOTS 512            /* keep in step with DECL_FUNCTIONS_MAX in declfile.h */
#define COPY_BYTES (STACK_WORDS * 8)
#define REGS 256             /* sizeof(declared_regs_t) */

    .text
    .globl declared_stubs
    .hidden declared_stubs
    .type declared_stubs, @function
    .p2align 4
declared_stubs:
    .set slot, 0
    .rept SLOTS
    .p2align 4
    movl $slot, %r11d
    jmp declared_common
    .set slot, slot + 1
    .endr
    .size declared_stubs, . - declared_stubs

    .type declared_common, @function
    .p2align 4
declared_common:
    .cfi_startproc
    pushq %rbp
    .cfi_def_cfa_offset 16
    .cfi_offset %rbp, -16
    movq %rsp, %rbp
    .cfi_def_cfa_register %rbp
    pushq %rbx
    .cfi_offset %rbx, -24
    pushq %r12
    .cfi_offset %r12, -32
    subq $(COPY_BYTES + REGS), %rsp
    leaq COPY_BYTES(%rsp), %rbx          /* rbx: the saved registers (declared_regs_t) */
    movl %r11d, %r12d                    /* r12: the slot */
    movq %rdi, 0(%rbx)
    movq %rsi, 8(%rbx)
    movq %rdx, 16(%rbx)
    movq %rcx, 24(%rbx)
    movq %r8, 32(%rbx)
    movq %r9, 40(%rbx)
    movq %rax, 48(%rbx)
    movdqu %xmm0, 96(%rbx)
    movdqu %xmm1, 112(%rbx)
    movdqu %xmm2, 128(%rbx)
    movdqu %xmm3, 144(%rbx)
    movdqu %xmm4, 160(%rbx)
    movdqu %xmm5, 176(%rbx)
    movdqu %xmm6, 192(%rbx)
    movdqu %xmm7, 208(%rbx)
    /* declared_before(slot, regs, return address, the caller's stack arguments) */
    movl %r12d, %edi
    movq %rbx, %rsi
    movq 8(%rbp), %rdx
    leaq 16(%rbp), %rcx
    call declared_before
    testq %rax, %rax
    jz .Lunbound
    movq %rax, %r11
    leaq 16(%rbp), %rsi
    movq %rsp, %rdi
    movl $STACK_WORDS, %ecx
    rep movsq                            /* the direction flag is clear at calls (ABI) */
    movq 0(%rbx), %rdi
    movq 8(%rbx), %rsi
    movq 16(%rbx), %rdx
    movq 24(%rbx), %rcx
    movq 32(%rbx), %r8
    movq 40(%rbx), %r9
    movq 48(%rbx), %rax
    movdqu 96(%rbx), %xmm0
    movdqu 112(%rbx), %xmm1
    movdqu 128(%rbx), %xmm2
    movdqu 144(%rbx), %xmm3
    movdqu 160(%rbx), %xmm4
    movdqu 176(%rbx), %xmm5
    movdqu 192(%rbx), %xmm6
    movdqu 208(%rbx), %xmm7
    call *%r11
    /* where the real function returns to: also where a hooked function it tail-calls returns
     * (TIFFClose ends in a jump to the file's close procedure, which jumps to close) */
    .globl declared_real_returns_here
    .hidden declared_real_returns_here
declared_real_returns_here:
    movq %rax, 64(%rbx)
    movq %rdx, 72(%rbx)
    movdqu %xmm0, 224(%rbx)
    movdqu %xmm1, 240(%rbx)
    /* declared_after(slot, regs, return address) */
    movl %r12d, %edi
    movq %rbx, %rsi
    movq 8(%rbp), %rdx
    call declared_after
    movq 64(%rbx), %rax
    movq 72(%rbx), %rdx
    movdqu 224(%rbx), %xmm0
    movdqu 240(%rbx), %xmm1
.Lreturn:
    leaq -16(%rbp), %rsp
    popq %r12
    popq %rbx
    popq %rbp
    .cfi_remember_state
    .cfi_def_cfa %rsp, 8
    ret
    .cfi_restore_state
.Lunbound:                               /* no instance bound: as the built-in hooks, return 0 */
    xorl %eax, %eax
    xorl %edx, %edx
    pxor %xmm0, %xmm0
    pxor %xmm1, %xmm1
    jmp .Lreturn
    .cfi_endproc
    .size declared_common, . - declared_common

#endif

    .section .note.GNU-stack, "", @progbits
