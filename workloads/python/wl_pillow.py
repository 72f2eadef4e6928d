"""Pillow open/resize/save loop (workloads/README.md).

leak mode: make_thumbnail loses a reference to the resized image's core object the way a C
extension's missing Py_DECREF does (ctypes.pythonapi.Py_IncRef on it), so the pixel memory
Pillow's C code allocated is never freed: definitely leaked, nothing points to it (the object,
its Imaging struct, line pointers and pixel block). clean mode does the same work and keeps
nothing. (A list that only grows would not do here: Python empties module globals when it exits,
so such a leak shows as growth over periodic snapshots, not at exit.)
"""
import ctypes
import io
import os
import sys

from PIL import Image


def source_png():
    im = Image.new("RGB", (96, 64))
    im.putdata([((x * 3) % 256, (y * 5) % 256, 128) for y in range(64) for x in range(96)])
    out = io.BytesIO()
    im.save(out, format="PNG")
    return out.getvalue()


def make_thumbnail(png, leak):
    with Image.open(io.BytesIO(png)) as im:
        thumb = im.resize((48, 32))
    if leak:
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(thumb.im))
    return thumb


def save_jpeg(thumb):
    out = io.BytesIO()
    thumb.save(out, format="JPEG", quality=80)
    return len(out.getvalue())


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "leak"
    iterations = int(sys.argv[sys.argv.index("--iterations") + 1]) if "--iterations" in sys.argv else 20
    leak = mode == "leak"
    png = source_png()
    total = 0
    for _ in range(iterations):
        thumb = make_thumbnail(png, leak)
        total += save_jpeg(thumb)
    os.write(1, b"wl_pillow %s: %d thumbnails, %d bytes\n" % (mode.encode(), iterations, total))


main()
