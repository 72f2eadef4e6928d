/* The built-in handle declarations (codecs.handles, builtin.handles), each as one NUL-terminated
 * string, for the shim and for imgleak run's check of a user's file (declfile.h). */
    .section .rodata
    .globl imgleak_codec_handles
    .hidden imgleak_codec_handles
    .type imgleak_codec_handles, @object
imgleak_codec_handles:
    .incbin "preload/catalog/codecs.handles"
    .byte 0
    .size imgleak_codec_handles, . - imgleak_codec_handles

    .globl imgleak_builtin_handles
    .hidden imgleak_builtin_handles
    .type imgleak_builtin_handles, @object
imgleak_builtin_handles:
    .incbin "preload/catalog/builtin.handles"
    .byte 0
    .size imgleak_builtin_handles, . - imgleak_builtin_handles
    .section .note.GNU-stack, "", @progbits
