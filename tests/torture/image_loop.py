"""A Python interpreter running an image loop: libwebp through ctypes, encoding a generated RGBA
image again and again, freeing each result with WebPFree except every tenth (leaked)."""
import ctypes
import ctypes.util
import sys

webp = ctypes.CDLL(ctypes.util.find_library("webp") or "libwebp.so.7")
webp.WebPEncodeRGBA.restype = ctypes.c_size_t
webp.WebPEncodeRGBA.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                ctypes.c_float, ctypes.POINTER(ctypes.c_void_p)]
webp.WebPFree.argtypes = [ctypes.c_void_p]

W, H = 48, 32
pixels = bytes((x * 5 + y * 3) % 256 for y in range(H) for x in range(W * 4))
total = 0
for i in range(200):
    out = ctypes.c_void_p()
    size = webp.WebPEncodeRGBA(pixels, W, H, W * 4, 75.0, ctypes.byref(out))
    total += size
    if i % 10:
        webp.WebPFree(out)
print("image loop: %d encodes, %s" % (200, "ok" if total > 0 else "failed"))
sys.exit(0 if total > 0 else 1)
