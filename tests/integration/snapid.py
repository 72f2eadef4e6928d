#!/usr/bin/env python3
"""snapid.py: prints, for each snapshot named, the header's pid and flags and the process record's 1.4
fields, one line each: FILE PID INSTANCE(16 hex) FAILED_SNAPSHOTS FLAGS. For the tests of file
naming and lost snapshots; the analyzer is tested elsewhere."""
import struct
import sys

SECTION_PROCESS = 1

for path in sys.argv[1:]:
    with open(path, "rb") as f:
        data = f.read()
    (magic, major, minor, header_size, count, entry_size, file_size, pid, seq, time_ns,
     flags) = struct.unpack_from("<8sHHIIIQQQQQ", data, 0)
    instance = failed = None
    for i in range(count):
        stype, rsize, offset, length, n = struct.unpack_from(
            "<IIQQQ", data, header_size + i * entry_size)
        if stype == SECTION_PROCESS and rsize >= 200:
            instance, = struct.unpack_from("<Q", data, offset + 168)
            failed, = struct.unpack_from("<Q", data, offset + 192)
    print(path, pid, "%016x" % instance if instance is not None else "-",
          failed if failed is not None else "-", flags)
