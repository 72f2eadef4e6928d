#!/usr/bin/env bash
# A final snapshot however the process ends (preload/snapshot/final.c, analyzer/commands/supervise.c): under imgleak
# run, every end below must give a report holding the one block the program leaked, charged to
# its line, and run must say how the program ended. Then the cases the sentinel must not disturb:
# a wait() for children, a pipe's EOF, an exec; and plain LD_PRELOAD without imgleak run.
set -u
B=${B:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
IMGLEAK=$B/imgleak
SHIM=$(readlink -f "$B/libimgleak.so")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
. "$ROOT/tests/integration/lib.sh"
export IMGLEAK_SCAN=off
c_line=$(grep -n 'LEAK(ends)' tests/integration/ends.c | cut -d: -f1)
go_line=$(grep -n 'LEAK(go_ends)' tests/integration/go_ends/main.go | cut -d: -f1)

# ends PROGRAM HOW STATUS SAID FUNCTION FILE LINE BYTES: run under imgleak run, check all
ends() {
    local prog=$1 how=$2 status=$3 said=$4 fn=$5 file=$6 line=$7 bytes=$8 out=$WORK/$2.$(basename "$1")
    timeout 60 "$IMGLEAK" run --format json --report "$out.json" -- "$prog" "$how" > "$out.out" 2> "$out.err"
    local rc=$?
    [ "$rc" = "$status" ] || { echo "     status $rc, expected $status: $(head -c 300 "$out.err")"; return 1; }
    grep -qx "imgleak: $prog $said" "$out.err" || { echo "     run said: $(head -n 3 "$out.err")"; return 1; }
    jqe --arg f "$fn" --arg file "$file" --argjson l "$line" --argjson b "$bytes" \
        '[.leaks[] | select(.in_app and .site.function == $f and .site.line == $l and .bytes == $b
                            and (.site.file | endswith($file)))] | length == 1' "$out.json" ||
        { echo "     report: $(jq -c '[.leaks[] | [.site.function, .site.file, .site.line, .bytes]]' "$out.json" 2>&1 | head -c 300)"; return 1; }
}

E=$B/tests/ends
check "C: return from main leaves the report" ends $E return 0 "exited 0" leak_once ends.c "$c_line" 4321
check "C: exit(4)" ends $E exit 4 "exited 4" leak_once ends.c "$c_line" 4321
check "C: _exit(3): no destructor runs, the sentinel writes it" ends $E _exit 3 "exited 3" leak_once ends.c "$c_line" 4321
check "C: quick_exit(5)" ends $E quick_exit 5 "exited 5" leak_once ends.c "$c_line" 4321
check "C: a daemon closes every descriptor it did not open, then _exit(6): the sentinel stays" \
    ends $E daemon 6 "exited 6" leak_once ends.c "$c_line" 4321
check "C: a raw close_range system call closes the sentinel's pipe, then _exit(8): the sentinel watches on" \
    ends $E rawclose 8 "exited 8" leak_once ends.c "$c_line" 4321
check "... a raw close_range, then a raw execve: one final snapshot, the new image's" \
    bash -c "timeout 30 '$IMGLEAK' run -o '$WORK/rawexec' -- '$E' rawexec 2>/dev/null >/dev/null; ls '$WORK/rawexec' | grep -c '\.snap$' | grep -qx 1"
check "C: killed by SIGKILL" ends $E kill 137 "killed by SIGKILL" leak_once ends.c "$c_line" 4321
check "C: SIGTERM with no handler" ends $E term 143 "killed by SIGTERM" leak_once ends.c "$c_line" 4321
check "C: abort()" ends $E abort 134 "killed by SIGABRT" leak_once ends.c "$c_line" 4321
check "C: SIGSEGV" ends $E segv 139 "killed by SIGSEGV" leak_once ends.c "$c_line" 4321
check "C: SIGKILL while another thread holds malloc's lock (the sentinel must not wait on it)" \
    ends $E lockedkill 137 "killed by SIGKILL" leak_once ends.c "$c_line" 4321
check "... the snapshot still has glibc's figures: the shim's own counts, read without its lock" \
    jqe '.snapshots[0].allocator == "glibc" and .snapshots[0].glibc.in_use > 4321
           and .snapshots[0].glibc.in_use < 4321 + 65536' "$WORK/lockedkill.ends.json"
# the Go ends: with the default toolchain's build, and each other one's ($B/go1.NN/go_ends)
for G in "$B/tests/go_ends" "$B"/go1.*/go_ends; do
    [ -x "$G" ] || continue
    V=${G#$B/}; V=${V%/go_ends}; V=${V/tests/go}
    check "$V: returning from main.main (the runtime's exit_group), charged to the Go line" \
        ends $G return 0 "exited 0" main.leakBuffer go_ends/main.go "$go_line" 5555
    check "$V: os.Exit(6)" ends $G exit 6 "exited 6" main.leakBuffer go_ends/main.go "$go_line" 5555
    check "$V: a panic (exit status 2)" ends $G panic 2 "exited 2" main.leakBuffer go_ends/main.go "$go_line" 5555
    check "$V: SIGTERM (docker stop)" ends $G term 143 "killed by SIGTERM" main.leakBuffer go_ends/main.go "$go_line" 5555
    check "$V: killed by SIGKILL" ends $G kill 137 "killed by SIGKILL" main.leakBuffer go_ends/main.go "$go_line" 5555
    out=$WORK/return.$(basename "$G")
    check "$V: the cgo glue is not in the stack" \
        jqe '[.leaks[].stack[].function | select(. != null and (startswith("_cgo_") or contains("_Cfunc_")
              or . == "runtime.cgocall" or startswith("runtime.asmcgocall")))] | length == 0' "$out.json"
    check "$V: the stack starts at the Go function that called C (no stray word of asmcgocall's frame)" \
        jqe '[.leaks[] | select(.in_app)][0].stack[0].function == "main.leakBuffer"' "$out.json"
    check "$V: the runtime's own memory is counted apart, never a leak" \
        jqe '.totals.go_runtime.bytes > 100000000 and .totals.leaked_bytes == 5555' "$out.json"
done

# what the sentinel must leave alone
quiet() { "$@" > /dev/null 2>&1; }
check "a child's pipe reaches EOF (the sentinels hold none of the program's descriptors)" \
    quiet timeout 30 "$IMGLEAK" run -o "$WORK/pipe" -- "$E" pipe
check "wait() for all children ends (a sentinel is never one of them)" \
    quiet timeout 30 "$IMGLEAK" run -o "$WORK/wait" -- "$E" wait
check "an exec: one final snapshot, the new image's" \
    bash -c "timeout 30 '$IMGLEAK' run -o '$WORK/exec' -- '$E' exec 2>/dev/null >/dev/null; ls '$WORK/exec' | grep -c '\.snap$' | grep -qx 1"
check "a failed exec: the program goes on, and its _exit still leaves the report" \
    ends $E execfail 7 "exited 7" leak_once ends.c "$c_line" 4321

check "IMGLEAK_FINAL=0: no sentinel, and no snapshot at an _exit" \
    bash -c "IMGLEAK_FINAL=0 '$IMGLEAK' run -- '$E' _exit 2>&1 | grep -q 'wrote no snapshot'"

# plain LD_PRELOAD: nobody waits for the sentinel; the snapshot appears shortly after the end
appears() { # appears DIR: a snapshot is written within 30 s
    for _ in $(seq 300); do
        ls "$1"/imgleak.*.snap >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}
for how in _exit kill; do
    mkdir -p "$WORK/plain-$how"
    (IMGLEAK_OUT="$WORK/plain-$how" LD_PRELOAD=$SHIM exec "$E" $how) 2>/dev/null
    check "plain LD_PRELOAD, $how: the sentinel writes the final snapshot" appears "$WORK/plain-$how"
done
# with IMGLEAK_DEBUG the sentinel logs while it writes: to its own stderr, never into the snapshot
# (it had closed the log's descriptor, and the snapshot file took its number: every one was lost)
mkdir -p "$WORK/plain-debug"
(IMGLEAK_DEBUG=1 IMGLEAK_OUT="$WORK/plain-debug" LD_PRELOAD=$SHIM exec "$E" _exit) 2> "$WORK/plain-debug.err"
check "plain LD_PRELOAD, IMGLEAK_DEBUG=1, _exit: the sentinel writes the final snapshot, whole" \
    eval 'appears "$WORK/plain-debug" && "$IMGLEAK" report "$WORK"/plain-debug/imgleak.*.snap > /dev/null 2>&1'
check "... and says so on stderr" eval 'sleep 0.5; grep -q "imgleak: wrote .*plain-debug" "$WORK/plain-debug.err"'
# the OOM killer: it kills the sentinel too (it shares the memory), so no final snapshot can be
# written; imgleak run's peak snapshots (at each new RSS high-water mark, and near the memory
# limit) are what there is: the report is on the last one, and says so. Needs a memory cgroup of
# our own (root; v2, or v1's memory controller).
oom_cgroup() { # makes $CG with a 96 MiB limit; 1 when this machine gives none
    if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
        CG=/sys/fs/cgroup/imgleak-final-$$
        mkdir "$CG" 2>/dev/null && echo $((96 << 20)) > "$CG/memory.max" 2>/dev/null &&
            echo 0 > "$CG/memory.swap.max" 2>/dev/null
    else
        CG=/sys/fs/cgroup/memory/imgleak-final-$$
        mkdir "$CG" 2>/dev/null && echo $((96 << 20)) > "$CG/memory.limit_in_bytes" 2>/dev/null
    fi
}
oom_run() { # oom_run NAME [RUN OPTION...]: the hog alone in the small cgroup (imgleak run must have room to report)
    local name=$1; shift
    timeout 120 "$IMGLEAK" run "$@" -o "$WORK/$name" -- \
        bash -c "echo \$\$ > '$CG/cgroup.procs' && exec '$B/tests/hog'" > "$WORK/$name.out" 2> "$WORK/$name.err"
}
if oom_cgroup; then
    oom_run oom
    check "OOM kill: run says so" grep -qx "imgleak: bash killed by SIGKILL (out of memory)" "$WORK/oom.err"
    check "OOM kill: with no timed snapshot asked for, the last peak snapshot is reported" \
        grep -q "at main tests/integration/hog.c" "$WORK/oom.err"
    # the hog grows 1 MiB every 3 ms, and run looks every 50 ms: under load the kill can come
    # before the 80-95% marks' snapshots are written, so the last one is at least the first mark
    # (half the limit, 48 MiB); RSS may pass the limit by the shared libraries' pages, which
    # the cgroup that read them first was charged for
    said=$(grep -m1 "^imgleak: no final snapshot" "$WORK/oom.err" | cut -c1-160)
    check "OOM kill: run says the report is from a snapshot before the end, past half the limit ($said)" \
        grep -Eq "^imgleak: no final snapshot; report from the snapshot at .* before the end\): RSS (4[89]|[5-8][0-9]|9[0-9])\.[0-9] MiB" "$WORK/oom.err"
    oom_run oom-off --peak-snapshots off
    check "OOM kill: --peak-snapshots off leaves nothing to report" \
        grep -q "wrote no snapshot" "$WORK/oom-off.err"
    rmdir "$CG" 2>/dev/null
else
    echo "skip OOM kill: no memory cgroup of our own (needs root, and cgroup v2 or v1's memory controller)"
fi
finish final
