"""libwebp through ctypes (workloads/README.md): encode_webp calls WebPEncodeRGB, which the
program looks up with dlsym (ctypes), and in leak mode never gives the output to WebPFree.
"""
import ctypes
import ctypes.util
import os
import sys

webp = ctypes.CDLL(ctypes.util.find_library("webp") or "libwebp.so.7")
webp.WebPEncodeRGB.restype = ctypes.c_size_t
webp.WebPEncodeRGB.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                               ctypes.c_float, ctypes.POINTER(ctypes.c_void_p)]
webp.WebPFree.argtypes = [ctypes.c_void_p]

W, H = 64, 48


def make_pixels(seed):
    return (ctypes.c_uint8 * (W * H * 3))(*[(i * 7 + seed) % 256 for i in range(W * H * 3)])


def encode_webp(pixels, leak):
    out = ctypes.c_void_p()
    size = webp.WebPEncodeRGB(pixels, W, H, W * 3, 75.0, ctypes.byref(out))
    if not leak:
        webp.WebPFree(out)
    return size


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "leak"
    iterations = int(sys.argv[sys.argv.index("--iterations") + 1]) if "--iterations" in sys.argv else 20
    pixels = make_pixels(3)
    total = 0
    for _ in range(iterations):
        total += encode_webp(pixels, mode == "leak")
    os.write(1, b"wl_ctypes_webp %s: %d images, %d bytes\n" % (mode.encode(), iterations, total))


main()
