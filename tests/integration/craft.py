#!/usr/bin/env python3
"""Crafted imgleak snapshots (format 1.4) for the analyzer's robustness tests: shapes a real
program would never write, made to find what a hostile or broken file does to the analyzer.

    craft.py KIND OUT [ARG]
KIND: plain      one leak of 100 bytes at a frame of module ARG (default /nonexistent/prog)
      bigfields  pid and RSS of 2^64 - 1
      huge       sizes near 2^56 in 300 leaks at distinct sites, so sums pass 2^64
      amplify    ARG stacks (default 2000) of 256 distinct frames, a block in every kind and class
      sites      ARG = N:T: N leaks at sites of their own, T seconds after the default time
      handles    ARG handles (default 100000), each created at a site of its own
      names      ARG handle types and functions (default 100000), ARG handles naming the last
      strings    exe, module path and handle names with terminal escapes, newlines, Latin-1;
                 ARG seconds later than the default time (for a series)
"""
import struct
import sys

HEAP, MMAP = 0, 1
UNKNOWN, REACHABLE, POSSIBLE, LEAKED, INDIRECT = 0, 1, 2, 3, 4


class Strings:
    def __init__(self):
        self.blob = bytearray(b"\0")

    def add(self, s):
        if isinstance(s, str):
            s = s.encode()
        off = len(self.blob)
        self.blob += s + b"\0"
        return off


def size_kind(size, kind, cls):
    return (size & ((1 << 56) - 1)) | kind << 56 | cls << 60


def snapshot(exe=b"/nonexistent/prog", module=b"/nonexistent/prog", stacks=(), live=(),
             names=(), handles=(), pid=4242, time_ns=2 * 10**18, rss=1 << 20):
    st = Strings()
    exe_off = st.add(exe)
    mod_off = st.add(module)
    proc = bytearray(200)
    struct.pack_into("<QQQQQII", proc, 0, pid, 1, 10**18, rss, rss, exe_off, 0)
    struct.pack_into("<I", proc, 152, 256)
    modules = struct.pack("<QQQQIHH32s", 0x400000, 0x800000, 0x400000, 0, mod_off, 0, 1, b"")
    stack_blob = bytearray()
    for sid, frames in stacks:
        stack_blob += struct.pack("<IHHQQQQ", sid, len(frames), 0, 1, 0, 1, 0)
        stack_blob += b"".join(struct.pack("<Q", f) for f in frames)
    live_blob = b"".join(struct.pack("<QQII", a, sk, sid, 0) for a, sk, sid in live)
    name_blob = bytearray()
    for kind, nid, name, lib in names:
        name_blob += struct.pack("<IIIIII", kind, nid, st.add(name), st.add(lib), 0, 0)
    handle_blob = b"".join(struct.pack("<QQIIIIII", a, 1, t, f, sid, 0, 1, 1)
                           for a, t, f, sid in handles)
    sections = [(1, 200, bytes(proc), 1), (2, 0, bytes(st.blob), 0), (3, 72, modules, 1),
                (4, 40, bytes(stack_blob), len(stacks)), (5, 24, live_blob, len(live))]
    if names:
        sections += [(6, 24, bytes(name_blob), len(names)), (7, 40, handle_blob, len(handles))]
    header_size, entry = 64, 32
    offset = header_size + entry * len(sections)
    table, body = bytearray(), bytearray()
    for typ, rsize, data, count in sections:
        table += struct.pack("<IIQQQ", typ, rsize, offset + len(body), len(data), count)
        body += data
        body += b"\0" * (-len(body) % 8)
    total = offset + len(body)
    head = struct.pack("<8sHHIIIQQQQQ", b"IMGLEAK\x1a", 1, 4, header_size, len(sections), entry,
                       total, pid, 1, time_ns, 1)
    return head + bytes(table) + bytes(body)


def main():
    kind, out = sys.argv[1], sys.argv[2]
    arg = sys.argv[3] if len(sys.argv) > 3 else None
    if kind == "plain":
        mod = (arg or "/nonexistent/prog").encode("latin-1")
        data = snapshot(exe=mod, module=mod, stacks=[(1, [0x401000])],
                        live=[(0x1000, size_kind(100, HEAP, LEAKED), 1)])
    elif kind == "bigfields":
        data = snapshot(stacks=[(1, [0x401000])], pid=2**64 - 1, rss=2**64 - 1,
                        live=[(0x1000, size_kind(100, HEAP, LEAKED), 1)])
    elif kind == "huge":
        n = 300
        data = snapshot(stacks=[(i + 1, [0x401000 + 16 * i]) for i in range(n)],
                        live=[(0x1000 + 64 * i, size_kind((1 << 56) - 1, HEAP, LEAKED), i + 1)
                              for i in range(n)])
    elif kind == "amplify":
        n = int(arg or 2000)
        stacks = [(i + 1, [0x401000 + 8 * (256 * i + k) for k in range(256)]) for i in range(n)]
        live = [(0x10000 + 64 * (10 * i + s), size_kind(8, s // 5, s % 5), i + 1)
                for i in range(n) for s in range(10)]
        data = snapshot(stacks=stacks, live=live)
    elif kind == "strings":
        evil = b"/tmp/\x1b[31mred\x1b]0;pwned\x07\nimgleak: fake line\r/caf\xe9"
        grow = int(arg or 0)
        data = snapshot(exe=evil, module=evil, stacks=[(1, [0x401000])],
                        live=[(0x1000 + 64 * i, size_kind(100, HEAP, LEAKED), 1)
                              for i in range(1 + grow)],
                        time_ns=2 * 10**18 + grow * 10**9,
                        names=[(0, 1, b"Evil\x1b[2JType", b"lib\x1b[1mx.so"),
                               (1, 1, b"create\nevil", b"")],
                        handles=[(0x2000, 1, 1, 1)])
    elif kind == "sites":
        n, later = (int(x) for x in (arg or "100000:0").split(":"))
        data = snapshot(stacks=[(i + 1, [0x401000 + 16 * i]) for i in range(n)],
                        live=[(0x1000 + 64 * i, size_kind(100 + later, HEAP, LEAKED), i + 1)
                              for i in range(n)], time_ns=2 * 10**18 + later * 10**9)
    elif kind == "handles":
        n = int(arg or 100000)
        data = snapshot(stacks=[(i + 1, [0x401000 + 16 * i]) for i in range(n)],
                        names=[(0, 1, b"Type", b"lib.so"), (1, 1, b"create", b"")],
                        handles=[(0x10000 + 64 * i, 1, 1, i + 1) for i in range(n)])
    elif kind == "names":
        n = int(arg or 100000)
        data = snapshot(stacks=[(1, [0x401000])],
                        names=[(i % 2, i // 2 + 1, b"N", b"") for i in range(2 * n)],
                        handles=[(0x10000 + 64 * i, n, n, 1) for i in range(n)])
    else:
        sys.exit("craft.py: unknown kind " + kind)
    with open(out, "wb") as f:
        f.write(data)


if __name__ == "__main__":
    main()
