"""Leaks for tests/integration/python.sh, chosen by argv[1]:
callback: a WebP buffer leaked from a function that map() calls back (a second evaluator run)
stdlib:   bytes made inside base64's own Python code, their reference lost (never freed)
thread:   the callback leak from a threading.Thread
child:    runs a copy of itself (callback) as a child process, and one through sh -c
"""
import base64
import ctypes
import ctypes.util
import subprocess
import sys
import threading

webp = ctypes.CDLL(ctypes.util.find_library("webp") or "libwebp.so.7")
webp.WebPEncodeRGB.restype = ctypes.c_size_t
pixels = (ctypes.c_uint8 * (16 * 16 * 3))()


def leaf(i):
    out = ctypes.c_void_p()
    return webp.WebPEncodeRGB(pixels, 16, 16, 48, ctypes.c_float(75), ctypes.byref(out))


def outer():
    return list(map(leaf, range(2)))


def keep_buffer():
    encoded = base64.b64encode(bytes(3000))
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(encoded))


def in_thread():
    t = threading.Thread(target=outer)
    t.start()
    t.join()


def children():
    subprocess.run([sys.executable, __file__, "callback"], check=True)
    subprocess.run(sys.executable + " -c pass; true", shell=True, check=True)


{"callback": outer, "stdlib": keep_buffer, "thread": in_thread, "child": children}[sys.argv[1]]()
