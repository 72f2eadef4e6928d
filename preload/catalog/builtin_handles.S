/* The built-in handle declarations (builtin.handles) as one NUL-terminated string, for the shim
 * and for imgleak run's check of a user's file (declfile.h). */
    .section .rodata
    .globl imgleak_builtin_handles
    .hidden imgleak_builtin_handles
    .type imgleak_builtin_handles, @object
imgleak_builtin_handles:
    .incbin "preload/catalog/builtin.handles"
    .byte 0
    .size imgleak_builtin_handles, . - imgleak_builtin_handles
    .section .note.GNU-stack, "", @progbits
