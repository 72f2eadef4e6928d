#!/usr/bin/env bash
# Where snapshots go, and what the user hears when they cannot be written: IMGLEAK_OUT resolved
# once at start (the program may chdir), the default for a program started in /, a directory
# missing, unwritable or too long said once on stderr and counted in the next snapshot written,
# two processes with one pid (two containers' pid 1 on one volume) kept apart, and a program that
# closed its standard streams still gets its exit snapshot with nothing said.
# Prints "N passed, M failed".
set -u
B=${B:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
SHIM=$(realpath "$B/libimgleak.so")
OUTDIR=$ROOT/$B/tests/outdir
WORK=$(mktemp -d)
chmod 755 "$WORK"
trap 'rm -rf "$WORK"' EXIT
. "$ROOT/tests/integration/lib.sh"
snaps() { ls "$1"/imgleak.*.snap 2>/dev/null; }
count() { snaps "$1" | wc -l; }
# procrec FILE...: FILE PID INSTANCE FAILED_SNAPSHOTS FLAGS per snapshot
procrec() { python3 "$ROOT/tests/integration/snapid.py" "$@"; }

# ------------------------------------------------ IMGLEAK_OUT is resolved at start
mkdir -p "$WORK/start/rel" "$WORK/away/rel"
(cd "$WORK/start" && IMGLEAK_OUT=rel LD_PRELOAD="$SHIM" "$OUTDIR" chdir "$WORK/away" > /dev/null)
check "IMGLEAK_OUT=rel, the program chdir()s: the exit snapshot is in rel/ of the start directory" \
    test "$(count "$WORK/start/rel")" = 1 -a "$(count "$WORK/away/rel")" = 0
mkdir -p "$WORK/start2" "$WORK/away2"
(cd "$WORK/start2" && env -u IMGLEAK_OUT LD_PRELOAD="$SHIM" "$OUTDIR" chdir "$WORK/away2" > /dev/null)
check "IMGLEAK_OUT unset, the program chdir()s: the snapshot is in the start directory" \
    test "$(count "$WORK/start2")" = 1 -a "$(count "$WORK/away2")" = 0

# ------------------------------------------------ a daemon started in /
mkdir "$WORK/tmpdir"
(cd / && env -u IMGLEAK_OUT TMPDIR="$WORK/tmpdir" LD_PRELOAD="$SHIM" "$OUTDIR" wait 0 > /dev/null)
check "IMGLEAK_OUT unset, started in /: the snapshot goes to \$TMPDIR" test "$(count "$WORK/tmpdir")" = 1
(cd / && exec env -u IMGLEAK_OUT -u TMPDIR LD_PRELOAD="$SHIM" "$OUTDIR" wait 0 > /dev/null) &
pid=$!
wait $pid
check "IMGLEAK_OUT and TMPDIR unset, started in /: the snapshot goes to /tmp, not /" \
    bash -c "ls /tmp/imgleak.$pid.*.snap > /dev/null 2>&1 && ! ls /imgleak.$pid.*.snap > /dev/null 2>&1"
rm -f /tmp/imgleak.$pid.*.snap

# ------------------------------------------------ snapshots that cannot be written
# late: a snapshot on SIGUSR2 fails, the program waits for the shim's line, then creates the
# directory; the exit snapshot then says one was lost
IMGLEAK_OUT="$WORK/late" LD_PRELOAD="$SHIM" "$OUTDIR" late "$WORK/late" "$WORK/late.err" 2> "$WORK/late.err"
check "missing directory: the program runs on (status 0)" test $? = 0
check "missing directory: said on stderr without IMGLEAK_DEBUG, naming the file and why" \
    grep -q "^imgleak: cannot create snapshot $WORK/late/\.imgleak\..*: no such file or directory" "$WORK/late.err"
check "missing directory: the next snapshot written counts the one lost (failed_snapshots 1)" \
    bash -c "[ \$(ls '$WORK'/late/*.snap | wc -l) = 1 ] &&
             python3 '$ROOT/tests/integration/snapid.py' '$WORK'/late/*.snap | awk '{ exit \$4 != 1 }'"
IMGLEAK_OUT="$WORK/no/such" LD_PRELOAD="$SHIM" "$OUTDIR" late "$WORK/no/such" "$WORK/twice.err" 2> "$WORK/twice.err"
check "missing directory, two snapshots lost: the first said, the second not again" \
    bash -c "[ \$(wc -l < '$WORK/twice.err') = 1 ] && grep -q 'cannot create snapshot $WORK/no/such/.*no such file' '$WORK/twice.err'"
IMGLEAK_OUT="$WORK/gone" IMGLEAK_INTERVAL=0.02 LD_PRELOAD="$SHIM" "$OUTDIR" wait 0.5 \
    > /dev/null 2> "$WORK/timed.err"
check "missing directory, timed snapshots: exactly one line on stderr ($(wc -l < "$WORK/timed.err"))" \
    test "$(wc -l < "$WORK/timed.err")" = 1
mkdir -m 755 "$WORK/ro"
IMGLEAK_OUT="$WORK/ro" LD_PRELOAD="$SHIM" setpriv --reuid=nobody --regid=nogroup --clear-groups \
    "$OUTDIR" late "$WORK/ro" /dev/stderr 2> "$WORK/ro.err"
check "unwritable directory: said once, 'permission denied'" \
    bash -c "[ \$(wc -l < '$WORK/ro.err') = 1 ] && grep -q 'cannot create snapshot $WORK/ro/.*permission denied' '$WORK/ro.err'"
long=/$(printf 'x%.0s' $(seq 1 5000))
IMGLEAK_OUT=$long LD_PRELOAD="$SHIM" "$OUTDIR" late "$WORK/long" "$WORK/long.err" 2> "$WORK/long.err"
check "IMGLEAK_OUT too long: said once, 'path too long'" \
    bash -c "[ \$(wc -l < '$WORK/long.err') = 1 ] && grep -q 'cannot create snapshot.*path too long' '$WORK/long.err'"
IMGLEAK_OUT=$WORK/${long:1:4090} LD_PRELOAD="$SHIM" "$OUTDIR" late "$WORK/long2" "$WORK/long2.err" 2> "$WORK/long2.err"
check "a snapshot path too long for the directory given: said, 'path too long'" \
    grep -q 'cannot create snapshot.*path too long' "$WORK/long2.err"
# a program that closes stderr and opens a file, which gets fd 2: the shim's lines go to the
# stderr it started with, never into that file
IMGLEAK_DEBUG=1 IMGLEAK_OUT="$WORK" LD_PRELOAD="$SHIM" "$OUTDIR" stderr "$WORK/data" 2> "$WORK/stderr.err"
check "stderr closed and its number reused for a file: the program's file holds only its data" \
    test "$(cat "$WORK/data")" = "the program's own data"
check "stderr closed and reused: the shim's lines still reach the stderr it started with" \
    grep -q "^imgleak: wrote $WORK/imgleak\." "$WORK/stderr.err"

# a full disk (a 4 KiB tmpfs, in a mount namespace of its own)
mkdir "$WORK/full"
if unshare --mount true 2> /dev/null; then
    unshare --mount sh -c "mount -t tmpfs -o size=4k tmpfs '$WORK/full' &&
        IMGLEAK_OUT='$WORK/full' LD_PRELOAD='$SHIM' '$OUTDIR' wait 0 && ls -A '$WORK/full' > '$WORK/full.ls'" \
        > /dev/null 2> "$WORK/full.err"
    check "disk full: the program runs on" test $? = 0
    check "disk full: said once, 'no space left on device'" \
        bash -c "[ \$(wc -l < '$WORK/full.err') = 1 ] && grep -q 'cannot write snapshot.*no space left on device' '$WORK/full.err'"
    check "disk full: no partial file is left" test ! -s "$WORK/full.ls"
else
    echo "skip disk full: no mount namespace"
fi

# ------------------------------------------------ two processes with one pid
# pid 1 in two pid namespaces writing into one directory, with IMGLEAK_KEEP: neither deletes or
# takes the other's files
mkdir "$WORK/pid1"
for i in 1 2; do
    unshare --pid --fork --mount-proc env IMGLEAK_OUT="$WORK/pid1" IMGLEAK_INTERVAL=0.02 \
        IMGLEAK_KEEP=2 LD_PRELOAD="$SHIM" "$OUTDIR" wait 1 &
done
wait
procrec $(snaps "$WORK/pid1") > "$WORK/pid1.txt"
check "one pid, two processes: every snapshot is pid 1's" \
    bash -c "[ -s '$WORK/pid1.txt' ] && awk '\$2 != 1 { exit 1 }' '$WORK/pid1.txt'"
check "one pid, two processes: two instance ids in the files" \
    test "$(awk '{ print $3 }' "$WORK/pid1.txt" | sort -u | wc -l)" = 2
check "one pid, two processes: the names carry the instance ids of the records" \
    awk '{ n = split($1, p, "."); if (p[n - 2] != $3) exit 1 }' "$WORK/pid1.txt"
check "one pid, two processes with IMGLEAK_KEEP=2: each kept its newest 1 or 2, the exit snapshot" \
    bash -c "awk '{ n[\$3]++; if (\$5 == 1) e[\$3]++ } END { for (i in n) if (n[i] > 2 || e[i] != 1) exit 1 }' '$WORK/pid1.txt'"

# ------------------------------------------------ a program that closed its standard streams
# (gnulib's close_stdin at exit: xargs, tail): the snapshot's file must not take their numbers
mkdir -p "$WORK/nostd"
for fds in 0 1 2 "0 1 2"; do
    rm -f "$WORK/nostd"/*
    IMGLEAK_OUT="$WORK/nostd" LD_PRELOAD="$SHIM" /usr/bin/python3 -c \
        "import os, sys; [os.close(int(f)) for f in sys.argv[1].split()]" "$fds" 2> "$WORK/nostd.err" < /dev/null
    rc=$?
    check "the program closed fd $fds: exit 0 ($rc), one exit snapshot, nothing on stderr ($(head -c 120 "$WORK/nostd.err"))" \
        eval '[ "$rc" = 0 ] && [ "$(count "$WORK/nostd")" = 1 ] && ls "$WORK/nostd" | grep -q "\.1\.snap$" && [ ! -s "$WORK/nostd.err" ]'
done

finish output
