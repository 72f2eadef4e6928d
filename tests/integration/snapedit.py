#!/usr/bin/env python3
"""Test-only: rewrites fields of a real snapshot (layout in docs/FORMAT.md) so that tests can make
what a real run rarely gives: two processes with one pid, a scan that could not read everything,
snapshots the process failed to write.

usage: snapedit.py IN OUT [pid=N] [sequence=N] [time=NS] [instance=HEX] [start_time=N]
                          [scan_flags=N] [unscanned=N] [failed=N] [leaked_to_unknown=1]
                          [truncate=BYTES]
pid= rewrites the header's and the process record's pid; leaked_to_unknown=1 makes every block
of class leaked or indirect unclassified (class 0) and drops the leak-roots section, as a scan
that could not read those blocks would leave them."""
import struct
import sys

HEADER = 64
PROCESS, LIVE, LEAK_ROOTS = 1, 5, 8
FIELDS = {"start_time": (16, "<Q"), "instance": (168, "<Q"), "scan_flags": (176, "<I"),
          "unscanned": (184, "<Q"), "failed": (192, "<Q")}


def sections(data):
    count, entry = struct.unpack_from("<II", data, 16)
    for i in range(count):
        at = HEADER + i * entry
        kind, rsize, off, length, n = struct.unpack_from("<IIQQQ", data, at)
        yield at, kind, rsize, off, length, n


def main():
    src, dst, edits = sys.argv[1], sys.argv[2], dict(a.split("=", 1) for a in sys.argv[3:])
    data = bytearray(open(src, "rb").read())
    table = list(sections(data))
    proc = next(s for s in table if s[1] == PROCESS)
    for name, value in edits.items():
        v = int(value, 16) if name == "instance" else int(value)
        if name in ("sequence", "time"):
            struct.pack_into("<Q", data, 40 if name == "sequence" else 48, v)
        elif name == "truncate":
            continue  # last, below
        elif name == "pid":
            struct.pack_into("<Q", data, 32, v)
            struct.pack_into("<Q", data, proc[3], v)
        elif name == "leaked_to_unknown":
            live = next(s for s in table if s[1] == LIVE)
            for i in range(live[5]):
                at = live[3] + i * live[2] + 8
                (size_kind,) = struct.unpack_from("<Q", data, at)
                if (size_kind >> 60) in (3, 4):
                    struct.pack_into("<Q", data, at, size_kind & ~(0xF << 60))
            for s in table:
                if s[1] == LEAK_ROOTS:  # an unknown type: readers skip it
                    struct.pack_into("<I", data, s[0], 99)
        else:
            off, fmt = FIELDS[name]
            if off + struct.calcsize(fmt) > proc[2]:
                sys.exit("snapedit: the process record is too short for " + name)
            struct.pack_into(fmt, data, proc[3] + off, v)
    if "truncate" in edits:
        data = data[:int(edits["truncate"])]
    open(dst, "wb").write(bytes(data))


main()
