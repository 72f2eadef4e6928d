#!/usr/bin/env bash
# The torture suite: the shim must never crash, deadlock or change what the program does. Each
# program runs natively and under the shim (with timed and signal snapshots where it matters),
# and its output and exit status must be the same; every snapshot left behind must be whole.
# Prints "N passed, M failed".
set -u
B=${B:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
IMGLEAK=$ROOT/$B/imgleak
SHIM=$ROOT/$B/libimgleak.so
T=$ROOT/$B/torture
WORK=$(mktemp -d)
chmod 755 "$WORK"
trap 'rm -rf "$WORK"' EXIT
JEMALLOC=$(ls /usr/lib/*/libjemalloc.so.2 2>/dev/null | head -n1)
. "$ROOT/tests/integration/lib.sh"

# same NAME [ENV=VALUE...] -- CMD...: CMD's stdout and status are the same natively and under the
# shim (snapshots into $WORK/NAME), within 120 s (no deadlock)
same() {
    local name=$1; shift
    local envs=()
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    mkdir -p "$WORK/$name"
    timeout 120 "$@" > "$WORK/$name.native" 2> /dev/null
    local native=$?
    # (timeout outside the shim: it would write a snapshot of its own)
    (cd "$WORK/$name" && timeout 120 env "${envs[@]}" IMGLEAK_OUT="$WORK/$name" \
        LD_PRELOAD="$SHIM${PRELOAD_AFTER:+ $PRELOAD_AFTER}" "$@" > "$WORK/$name.shim" 2> "$WORK/$name.err")
    local shimmed=$?
    [ $shimmed != 124 ] || { echo "     timed out under the shim (deadlock?)"; return 1; }
    [ $native = $shimmed ] || { echo "     status $native natively, $shimmed under the shim"; return 1; }
    cmp -s "$WORK/$name.native" "$WORK/$name.shim" ||
        { echo "     output differs:"; diff "$WORK/$name.native" "$WORK/$name.shim" | head -5; return 1; }
}
snaps() { ls "$WORK/$1"/imgleak.*.snap 2>/dev/null; }
all_whole() { # every snapshot in $WORK/NAME parses, and no temporary file is left
    local f n=0
    for f in $(snaps "$1"); do
        "$IMGLEAK" report --format json "$f" > /dev/null 2> "$WORK/parse.err" ||
            { echo "     $f: $(cat "$WORK/parse.err")"; return 1; }
        n=$((n + 1))
    done
    [ $n -gt 0 ] || { echo "     no snapshot at all"; return 1; }
    ! ls -a "$WORK/$1" | grep -q '\.tmp$' || { echo "     a temporary file was left"; return 1; }
}

# ------------------------------------------------ threads
check "threads: 8 threads freeing each other's blocks, SIGUSR2 snapshots in a tight loop, exit() from a thread" \
    same threads IMGLEAK_INTERVAL=0.02 -- "$T/threads" 8 1.5
check "threads: every snapshot whole" all_whole threads
n=$(snaps threads | wc -l)
check "threads: timed and signal snapshots were written ($n)" test "$n" -ge 5
if [ -n "$JEMALLOC" ]; then
    PRELOAD_AFTER=$JEMALLOC
    check "threads on jemalloc" same threads-je IMGLEAK_INTERVAL=0.05 -- "$T/threads" 8 1
    check "threads on jemalloc: snapshots whole" all_whole threads-je
    unset PRELOAD_AFTER
fi

# ------------------------------------------------ processes
check "processes: fork storm, fork+exec, posix_spawn, vfork, _exit, SIGKILL" same procs -- "$T/procs"
# 44 processes exit normally; the child ending in _exit and the one killed by SIGKILL get theirs
# from their sentinels (preload/final.c), which nobody waits for without imgleak run: their files
# may come a moment after the program ends. vfork children share their parent's and write none.
for _ in $(seq 300); do
    [ "$(snaps procs | wc -l)" -ge 46 ] && break
    sleep 0.1
done
n=$(snaps procs | wc -l)
check "processes: one final snapshot per process (46, got $n)" test "$n" = 46
check "processes: every snapshot whole, none partial" all_whole procs

# ------------------------------------------------ signals
check "signals: a 50 µs timer interrupting malloc, free and the unwinder; mmap in the handler" \
    same signals -- "$T/signals" 1.5
n=$(snaps signals | wc -l)
check "signals: SIGUSR2 snapshots taken though the program ignores SIGUSR2 ($n)" test "$n" -ge 2
check "signals: every snapshot whole" all_whole signals

# ------------------------------------------------ edge cases
check "edge cases: alignments, zero and huge sizes, failed realloc, ENOMEM under RLIMIT_AS" \
    same edge -- "$T/edge"
check "semantics (tests/integration): same output with and without the shim" \
    same semantics -- "$ROOT/$B/tests/semantics"

# ------------------------------------------------ languages and runtimes
check "C++ exceptions thrown through allocating frames" same exceptions -- "$T/exceptions"
check "C++: the report reads" all_whole exceptions
# Go leaves through exit_group, not exit(): no exit snapshot, so a timed one (scanned, with the
# runtime's threads running) is what the report reads
check "Go with cgo: 8 goroutines calling C, scanned while running" \
    same cgo IMGLEAK_INTERVAL=0.2 IMGLEAK_SCAN=always -- "$T/cgo"
# (the scan reads the Go heap too, so a stale word there may keep c_leak's block "reachable")
check "Go: the last timed snapshot names the C allocations" \
    bash -c "'$IMGLEAK' report --show-reachable --format json \$(ls '$WORK'/cgo/*.snap | sort -t. -k3 -n | tail -1) |
             jq -e '([.leaks[] | select(.site.function == \"c_leak\")] | length == 1) and
                    ([.leaks[] | select(.site.function == \"c_keep\")] | length == 1)' > /dev/null"
check "Python: an image loop through ctypes and libwebp" \
    same python -- /usr/bin/python3 "$ROOT/tests/torture/image_loop.py"
# (ctypes finds WebPEncodeRGBA with dlsym on the library's handle, which the codec hooks cannot
# see; the buffers are still found as leaked heap blocks)
check "Python: the 20 WebP outputs never freed are found leaked" \
    bash -c "'$IMGLEAK' report --format json $(snaps python | tail -1) |
             jq -e '[.leaks[] | select([.stack[].function] | index(\"WebPEncodeRGBA\")) | .blocks] | add >= 20' > /dev/null"

# ------------------------------------------------ files
f=$(snaps threads | head -1)
check "snapshots are created 0600" test "$(stat -c %a "$f")" = 600
mkdir "$WORK/links"
touch "$WORK/target"
# the program's pid is known before it starts: sh execs it
(cd "$WORK/links" && IMGLEAK_OUT="$WORK/links" LD_PRELOAD="$SHIM" sh -c \
    'ln -s ../target .imgleak.$$.1.tmp; ln -s ../target imgleak.$$.2.snap; exec "$0" leak' "$ROOT/$B/tests/leaky")
check "a symlink at the temporary name is not followed" test ! -s "$WORK/target"
check "a symlink at the final name is not replaced, the next name is taken" \
    bash -c "ls '$WORK/links' | grep -q 'imgleak\.[0-9]*\.3\.snap' && [ -L \"\$(ls -d '$WORK'/links/imgleak.*.2.snap)\" ]"
cp "$ROOT/$B/tests/leaky" "$WORK/suid"
chmod 4755 "$WORK/suid"
mkdir -m 777 "$WORK/suidout"
(cd "$WORK/suidout" && IMGLEAK_OUT="$WORK/suidout" LD_PRELOAD="$SHIM" setpriv --reuid=nobody --regid=nogroup \
    --clear-groups "$WORK/suid" leak > /dev/null 2>&1)
check "a set-uid program: the shim does nothing (no snapshot)" test -z "$(ls "$WORK/suidout")"

# ------------------------------------------------ symbolization of missing, stripped, replaced, broken files
mkdir "$WORK/sym"
cp "$ROOT/$B/tests/leaky" "$WORK/sym/prog"
(cd "$WORK/sym" && LD_PRELOAD="$SHIM" ./prog leak)
s=$(ls "$WORK"/sym/imgleak.*.snap)
sym_case() { # sym_case WHAT: the report still works, names what it could not resolve
    "$ROOT/$B/asan/imgleak" report "$s" > "$WORK/sym.out" 2> "$WORK/sym.err" &&
        ! grep -qE "AddressSanitizer|runtime error" "$WORK/sym.err" &&
        grep -q "leaked at" "$WORK/sym.out" || { head -3 "$WORK/sym.err"; return 1; }
}
strip "$WORK/sym/prog"
check "symbolizing a stripped binary: report made, under ASan" sym_case
cp "$ROOT/$B/tests/stress" "$WORK/sym/prog"
check "symbolizing a replaced binary: report made, the mismatch said" \
    bash -c "$(declare -f sym_case); s='$s' WORK='$WORK' ROOT='$ROOT' B='$B' sym_case && grep -q 'build-id' '$WORK/sym.err'"
head -c 3000 /dev/urandom > "$WORK/sym/prog"
check "symbolizing a file that is not ELF any more: report made" sym_case
rm "$WORK/sym/prog"
check "symbolizing a deleted binary: report made, the file named as missing" \
    bash -c "$(declare -f sym_case); s='$s' WORK='$WORK' ROOT='$ROOT' B='$B' sym_case && grep -q 'prog' '$WORK/sym.err'"

finish torture
