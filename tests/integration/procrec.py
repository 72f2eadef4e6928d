#!/usr/bin/env python3
"""Prints fields of a snapshot's process record (docs/FORMAT.md), one 'name=value' a line:
dropped_table_full, dropped_stacks, scan_flags, unscanned_bytes. Usage: procrec.py FILE.snap"""
import struct
import sys

data = open(sys.argv[1], "rb").read()
header_size, count, entry_size = struct.unpack_from("<III", data, 12)
for i in range(count):
    kind, rec_size, offset, _length, _n = struct.unpack_from("<IIQQQ", data, header_size + i * entry_size)
    if kind == 1:
        p = offset
        print("dropped_table_full=%d" % struct.unpack_from("<Q", data, p + 120))
        print("dropped_stacks=%d" % struct.unpack_from("<Q", data, p + 136))
        if rec_size >= 200:
            print("scan_flags=%d" % struct.unpack_from("<I", data, p + 176))
            print("unscanned_bytes=%d" % struct.unpack_from("<Q", data, p + 184))
