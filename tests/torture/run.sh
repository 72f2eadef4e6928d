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
[ -n "${KEEP_WORK:-}" ] && trap - EXIT
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
# the snapshot of $WORK/NAME with the highest sequence number (imgleak.<pid>.<instance>.<seq>.snap)
last_snap() { snaps "$1" | awk -F. '{ print $(NF - 1), $0 }' | sort -n | tail -n1 | cut -d' ' -f2-; }
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
# from their sentinels (preload/snapshot/final.c), which nobody waits for without imgleak run: their files
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
# membarrier refused (a sandbox): from the start, the table's writers fence themselves and it
# grows as ever; refused only later, it stops growing and the blocks it cannot hold are reported
check "membarrier refused from the start: same output" same nomb-start -- "$T/nomembarrier" start
check "membarrier refused from the start: every block recorded" \
    bash -c 'grep -q "^membarrier refused" "$1" && out=$("$2" report "$3" 2>&1) &&
             ! grep -q "not recorded" <<< "$out"' _ "$WORK/nomb-start.shim" "$IMGLEAK" "$(last_snap nomb-start)"
check "membarrier refused later: same output" same nomb-late -- "$T/nomembarrier" late
check "membarrier refused later: said, and the blocks not held are reported as not recorded" \
    bash -c 'grep -q "membarrier refused" "$1" && "$2" report "$3" 2>&1 | grep -q "not recorded"' _ \
    "$WORK/nomb-late.err" "$IMGLEAK" "$(last_snap nomb-late)"

# ------------------------------------------------ ways out, and what the program does to the shim's files
# exit() in a SIGTERM handler that interrupted malloc: the exit snapshot must not wait for the
# allocator's lock (it hung 1 run in 3). timeout -s KILL: the program catches SIGTERM.
exit_in_handler() {
    local i native shimmed hangs=0 differ=0
    mkdir -p "$WORK/sigterm"
    timeout -s KILL 60 "$T/exits" sigterm > "$WORK/sigterm.native" 2> /dev/null
    native=$?
    for i in $(seq 1 50); do
        (cd "$WORK/sigterm" && timeout -s KILL 60 env IMGLEAK_OUT="$WORK/sigterm" LD_PRELOAD="$SHIM" \
            "$T/exits" sigterm > "$WORK/sigterm.shim" 2> /dev/null)
        shimmed=$?
        [ $shimmed != 137 ] || hangs=$((hangs + 1))
        [ $shimmed = $native ] && cmp -s "$WORK/sigterm.native" "$WORK/sigterm.shim" || differ=$((differ + 1))
    done
    [ $hangs = 0 ] && [ $differ = 0 ] || { echo "     $hangs of 50 runs hung, $differ differed"; return 1; }
}
check "exit() from a signal handler that interrupted malloc: 50 runs, no hang, same output" \
    exit_in_handler
check "exit() from a signal handler: every exit snapshot whole" all_whole sigterm
check "quick_exit(): same output and status" same quick -- "$T/exits" quick
check "quick_exit() writes the exit snapshot" \
    bash -c "[ \$(ls '$WORK'/quick/*.snap | wc -l) = 1 ] &&
             python3 '$ROOT/tests/integration/snapid.py' '$WORK'/quick/*.snap | awk '{ exit \$5 != 1 }'"
check "quick_exit(): the snapshot is whole" all_whole quick
# the program closes and dup2()s over every descriptor it does not know while snapshots are
# written every 10 ms: its files stay its own, and every published snapshot is whole
mkdir "$WORK/fdfiles"
check "close_range/closefrom/close/dup2 sweeps during snapshots: 3000 rounds, no file corrupted" \
    same fdstorm IMGLEAK_INTERVAL=0.01 -- "$T/fdstorm" "$WORK/fdfiles" 3000
check "close sweeps: every published snapshot whole" all_whole fdstorm
n=$(snaps fdstorm | wc -l)
check "close sweeps: snapshots were written meanwhile ($n)" test "$n" -ge 2
# 4 threads reaching malloc through new call paths while snapshots are taken every 10 ms: a stack
# interned while a snapshot is written must not be missing from it (21 in 22 were unreadable)
check "new stacks on 4 threads, snapshots every 10 ms: same output" \
    same newstacks IMGLEAK_INTERVAL=0.01 -- "$T/newstacks" 4 2
check "new stacks: every snapshot readable" all_whole newstacks
n=$(snaps newstacks | wc -l)
check "new stacks: snapshots were written meanwhile ($n)" test "$n" -ge 2

# ------------------------------------------------ IMGLEAK_SIGNAL: only signals nobody else needs
for pair in SIGHUP:HUP PIPE:PIPE 17:CHLD SIGSEGV:SEGV; do
    sig=${pair%:*} name=${pair#*:}
    check "IMGLEAK_SIGNAL=$sig refused: the program gets SIG$name as natively" \
        same "signal-$sig" IMGLEAK_SIGNAL=$sig -- sh -c "kill -$name \$\$; echo survived"
    check "IMGLEAK_SIGNAL=$sig refused: said once on stderr, without IMGLEAK_DEBUG" \
        test "$(grep -c "IMGLEAK_SIGNAL=$sig refused" "$WORK/signal-$sig.err")" = 1
done
rtmin2=$(( $(kill -l RTMIN 2> /dev/null || echo 34) + 2 ))
check "IMGLEAK_SIGNAL=SIGRTMIN+2 accepted: the shim takes signal $rtmin2" \
    bash -c "cd '$WORK' && IMGLEAK_OUT='$WORK' IMGLEAK_SIGNAL=SIGRTMIN+2 LD_PRELOAD='$SHIM' \
             sh -c 'kill -$rtmin2 \$\$; echo survived' 2>&1 | grep -qx survived"
check "IMGLEAK_SIGNAL=SIGUSR1 accepted: the shim takes SIGUSR1" \
    bash -c "cd '$WORK' && IMGLEAK_OUT='$WORK' IMGLEAK_SIGNAL=USR1 LD_PRELOAD='$SHIM' \
             sh -c 'kill -USR1 \$\$; echo survived' 2>&1 | grep -qx survived"

# ------------------------------------------------ languages and runtimes
check "C++ exceptions thrown through allocating frames" same exceptions -- "$T/exceptions"
check "C++: the report reads" all_whole exceptions
# Go leaves through exit_group, not exit(): no exit snapshot, so a timed one (scanned, with the
# runtime's threads running) is what the report reads
check "Go with cgo: 8 goroutines calling C, scanned while running" \
    same cgo IMGLEAK_INTERVAL=0.2 IMGLEAK_SCAN=always -- "$T/cgo"
# (the scan reads the Go heap too, so a stale word there may keep c_leak's block "reachable")
check "Go: the last timed snapshot names the C allocations" \
    bash -c "'$IMGLEAK' report --show-reachable --format json '$(last_snap cgo)' |
             jq -e '([.leaks[] | select(.site.function == \"c_leak\")] | length == 1) and
                    ([.leaks[] | select(.site.function == \"c_keep\")] | length == 1)' > /dev/null"
check "Python: an image loop through ctypes and libwebp" \
    same python PYTHONMALLOC=malloc -- /usr/bin/python3 "$ROOT/tests/torture/image_loop.py"
# (under plain LD_PRELOAD, libwebp loaded by ctypes after start is not bound to the codec hooks;
# the buffers are still found as leaked heap blocks. imgleak run binds it: tests/integration/bind.sh)
# (PYTHONMALLOC=malloc, as imgleak's docs advise: pymalloc's arenas keep freed ctypes objects,
# and the addresses they held, in memory the scan reads, so leaked buffers can look reachable)
check "Python: the 20 WebP outputs never freed are found leaked" \
    bash -c "'$IMGLEAK' report --format json $(snaps python | tr '\n' ' ') |
             jq -e '[.leaks[] | select([.stack[].function] | index(\"WebPEncodeRGBA\"))
                     | .blocks + .indirect_blocks] | add >= 20' > /dev/null"

# ------------------------------------------------ files
f=$(snaps threads | head -1)
check "snapshots are created 0600" test "$(stat -c %a "$f")" = 600
n=$(snaps threads | grep -cE '/imgleak\.[0-9]+\.[0-9a-f]{16}\.[0-9]+\.snap$')
check "snapshots are named imgleak.<pid>.<instance: 16 hex>.<seq>.snap ($n)" \
    test "$n" -gt 0 -a "$n" = "$(snaps threads | wc -l)"
check "the instance in the name is the process record's" \
    bash -c "python3 '$ROOT/tests/integration/snapid.py' $(snaps threads | head -3 | tr '\n' ' ') |
             awk '{ n = split(\$1, p, \".\"); if (p[n - 2] != \$3) exit 1 }'"
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
