/* codecs.def's function rows, each reduced to its library and name: for the tables that need
 * nothing else. The includer defines CODEC_ROW(lib, fn) for every row but LIBC_FN's and
 * CODEC_LIBC_ROW(fn) for those, with CODEC_LIB and HANDLE_TYPE defined empty and the row macros
 * undefined; this includes codecs.def and undefines all it defined. No include guard: it is
 * included once per table. */
#define CREATE(lib, type, fn, ret, params, args, handle, ok) CODEC_ROW(lib, fn)
#define CREATE_VOID(lib, type, fn, params, args, handle) CODEC_ROW(lib, fn)
#define DESTROY(lib, types, fn, ret, params, args, h0, h1, h2) CODEC_ROW(lib, fn)
#define DESTROY_VOID(lib, types, fn, params, args, h0, h1, h2) CODEC_ROW(lib, fn)
#define RESET(lib, types, fn, ret, params, args, h) CODEC_ROW(lib, fn)
#define REF(lib, type, fn, ret, params, args, h) CODEC_ROW(lib, fn)
#define INPUT(lib, fn, ret, params, args, kind, src, len, h) CODEC_ROW(lib, fn)
#define INPUT_VOID(lib, fn, params, args, kind, src, len, h) CODEC_ROW(lib, fn)
#define CREATE_INPUT(lib, type, fn, ret, params, args, handle, ok, kind, src, len) CODEC_ROW(lib, fn)
#define LIBC_FN(fn) CODEC_LIBC_ROW(fn)
#include "codecs.def"
#undef CREATE
#undef CREATE_VOID
#undef DESTROY
#undef DESTROY_VOID
#undef RESET
#undef REF
#undef INPUT
#undef INPUT_VOID
#undef CREATE_INPUT
#undef LIBC_FN
