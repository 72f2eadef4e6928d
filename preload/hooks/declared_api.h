/* Function tables handed out by a declared api function (ONNX Runtime's OrtApi, see
 * docs/HANDLES.md): the program gets a copy whose declared members are trampolines. */
#ifndef IMGLEAK_DECLARED_API_H
#define IMGLEAK_DECLARED_API_H

#include <stdint.h>

/* What OrtGetApiBase returned: the address of an OrtApiBase of the shim's own, whose GetApi
 * returns the patched copy of the table (the real base when there is nothing to patch). */
uintptr_t declared_api_wrap(uintptr_t real_base);

#endif
