#!/usr/bin/env bash
# What the shim tracks when the program or its surroundings make it hard: mappings changed by
# mremap(MREMAP_DONTUNMAP) or unmapped in a signal handler that interrupted the shim, an
# address-space limit (ulimit -v), a sandbox that refuses process_vm_readv, a forked child's
# exit, descriptors 3 and 4 that libunwind's pipe must not take, a vfork child on its parent's
# memory. Prints "N passed, M failed".
set -u
B=${B:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
IMGLEAK=$B/imgleak
SHIM=$(cd "$B" && pwd)/libimgleak.so
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
. "$ROOT/tests/integration/lib.sh"

# record SNAPSHOT FIELD: a field of the snapshot's process record
record() { python3 "$ROOT/tests/integration/procrec.py" "$1" 2> /dev/null | sed -n "s/^$2=//p"; }

# sites JSON FUNCTION: the program's sites in FUNCTION, as "class:bytes" words
sites() {
    jq -r --arg f "$2" '[.leaks[] | select(.in_app and .site.function == $f)
                         | "\(.class):\(.bytes)"] | join(" ")' "$1"
}

# ------------------------------------------------ the stack cache
# Chains with the same innermost return slots and addresses that differ further up, recursion to
# alternating depths, allocations on an alternate signal stack: each stack gets its own blocks,
# exactly as unwinding every call would give them (collapsed: "frames bytes" per stack).
$IMGLEAK run --show-reachable --format collapsed --report "$WORK/samestack.txt" -- $B/tests/samestack > /dev/null 2>&1
stack_bytes() { awk -v want="$1" '{ n = $NF; $NF = ""; sub(/ $/, ""); if ($0 == want) print n }' "$WORK/samestack.txt"; }
check "stack cache: the same slots under via_a and via_b stay two stacks (1500 blocks each)" \
    test "$(stack_bytes "main;via_a;helper;make_block")/$(stack_bytes "main;via_b;helper;make_block")" = "48000/48000"
check "stack cache: recursion to alternating depths keeps each depth's stack" \
    test "$(stack_bytes "main;at_depth_5;deep;deep;deep;deep;deep;deep;helper;make_block")/$(stack_bytes "main;at_depth_9;deep;deep;deep;deep;deep;deep;deep;deep;deep;deep;helper;make_block")" = "40000/40000"
check "stack cache: blocks from a handler on an alternate signal stack are under the handler" \
    test "$(grep -c ';on_signal;make_block 384$' "$WORK/samestack.txt")" = 1

# ------------------------------------------------ mappings
$IMGLEAK run --show-reachable --format json --report "$WORK/dontunmap.json" -- \
    $B/tests/mapedge dontunmap > "$WORK/dontunmap.out"
check "mremap(MREMAP_DONTUNMAP): the program runs as without the shim" \
    grep -qx "dontunmap: 0 7" "$WORK/dontunmap.out"
check "mremap(MREMAP_DONTUNMAP): the old range, still mapped, is reported" \
    test "$(sites "$WORK/dontunmap.json" map_original)" = "reachable:12288"
check "mremap(MREMAP_DONTUNMAP): ... and so is the new one" \
    test "$(sites "$WORK/dontunmap.json" move_keep)" = "reachable:12288"

# The handler lands inside the shim's own mmap/munmap most of the time: five runs, each must
# forget all 200 mappings the handler unmapped.
left=""
for run in 1 2 3 4 5; do
    $IMGLEAK run --show-reachable --format json --report "$WORK/signal$run.json" -- \
        $B/tests/mapedge signal > /dev/null
    left="$left$(sites "$WORK/signal$run.json" map_for_handler)"
done
check "munmap in a signal handler that interrupted the shim: nothing left recorded (5 runs)" \
    test -z "$left"

# ------------------------------------------------ an address-space limit (ulimit -v)
# The shim used to reserve 332 MB at start: under 500000 KB a program got 160 MiB, not ~480.
native=$( (ulimit -v 500000; $B/tests/vlimit grab 2000) | sed -n 's/^grab: \([0-9]*\) MiB$/\1/p')
shimmed=$( (ulimit -v 500000; IMGLEAK_OUT="$WORK" LD_PRELOAD=$SHIM \
            $B/tests/vlimit grab 2000 2> /dev/null) | sed -n 's/^grab: \([0-9]*\) MiB$/\1/p')
check "ulimit -v 500000: the program gets almost what it gets without the shim ($shimmed of $native MiB)" \
    test "${shimmed:-0}" -ge $((${native:-999} - 16))
# So tight that the live table cannot grow: the program's output is the same, stderr says why.
(ulimit -v 60000; $B/tests/vlimit many 400000) > "$WORK/many-native.out" 2>&1
mkdir "$WORK/many"
(ulimit -v 60000; IMGLEAK_OUT="$WORK/many" LD_PRELOAD=$SHIM \
 $B/tests/vlimit many 400000) > "$WORK/many.out" 2> "$WORK/many.err"
check "ulimit -v 60000, 400000 live blocks: the program's output is as without the shim" \
    bash -c "grep -qx 'many: 400000' '$WORK/many-native.out' && cmp -s '$WORK/many-native.out' '$WORK/many.out'"
check "ulimit -v 60000: stderr says the live table could not grow" \
    grep -q "no memory to grow the live table" "$WORK/many.err"
snap=$(ls "$WORK"/many/*.snap 2> /dev/null | head -1)
check "ulimit -v 60000: the snapshot counts the blocks it dropped" \
    bash -c "[ -n '$snap' ] && [ \"\$(python3 '$ROOT/tests/integration/procrec.py' '$snap' | sed -n 's/^dropped_table_full=//p')\" -gt 0 ]"

# Limits from where the C library barely loads up: wherever the shim's libraries load too, the
# program prints what it prints without the shim, and the shim either tracks (writes a snapshot)
# or says on stderr why not. It used to turn itself off without a word below ~340 MB.
silent=""
differs=""
not_tracking=0
for kb in $(seq 3000 100 9000); do
    native=$( (ulimit -v $kb; $B/tests/vlimit grab 0) 2>&1)
    [ "$native" = "grab: 0 MiB" ] || continue
    rm -rf "$WORK/tight"
    mkdir "$WORK/tight"
    (ulimit -v $kb; IMGLEAK_OUT="$WORK/tight" LD_PRELOAD=$SHIM $B/tests/vlimit grab 0) \
        > "$WORK/tight.out" 2> "$WORK/tight.err"
    # the dynamic linker could not map the preloaded libraries (or their TLS) at all: the shim
    # never ran, as with any LD_PRELOAD library under that limit
    grep -qE "error while loading shared libraries|cannot allocate TLS data structures" \
        "$WORK/tight.err" && continue
    [ "$(cat "$WORK/tight.out")" = "$native" ] || differs="$differs $kb"
    grep -q "not tracking" "$WORK/tight.err" && not_tracking=$((not_tracking + 1))
    ls "$WORK"/tight/*.snap > /dev/null 2>&1 || grep -q "^imgleak: " "$WORK/tight.err" || silent="$silent $kb"
done
check "tight limits (3000-9000 KB): the program's output is as without the shim${differs:+ (not at$differs)}" \
    test -z "$differs"
check "tight limits: the shim never stops tracking without a word${silent:+ (silent at$silent KB)}" \
    test -z "$silent"
check "tight limits: where the tables do not fit, stderr says the process is not tracked" \
    test "$not_tracking" -gt 0

# ------------------------------------------------ a sandbox that refuses process_vm_readv
$IMGLEAK run --show-reachable --format json --report "$WORK/vm.json" -- \
    $B/tests/sandboxed vm > "$WORK/vm.out" 2> "$WORK/vm.err"
check "no process_vm_readv: the program runs (and really is refused)" grep -qx "sandboxed: refused" "$WORK/vm.out"
check "no process_vm_readv: blocks a global keeps are still reachable" \
    test "$(sites "$WORK/vm.json" sandbox_keep)/$(sites "$WORK/vm.json" sandbox_child)" = "reachable:32/reachable:48"
check "no process_vm_readv: a lost block is still leaked" \
    test "$(sites "$WORK/vm.json" sandbox_lose)" = "leaked:40"
check "no process_vm_readv: stderr says how the scan read instead" \
    grep -q "process_vm_readv is refused here" "$WORK/vm.err"

mkdir "$WORK/nomem"
$IMGLEAK run -o "$WORK/nomem" --show-reachable --format json --report "$WORK/nomem.json" -- \
    $B/tests/sandboxed nomem > /dev/null 2> "$WORK/nomem.err"
check "nothing can read memory: no block is called leaked" \
    jqe '[.leaks[] | select(.in_app and (.class == "leaked" or .class == "indirect" or .class == "possible"))] | length == 0' \
    "$WORK/nomem.json"
check "nothing can read memory: the kept and the lost block are left unclassified, said as lost data" \
    bash -c "[ -z '$(sites "$WORK/nomem.json" sandbox_keep)$(sites "$WORK/nomem.json" sandbox_lose)' ] &&
        jq -e '.totals.dropped.scan_incomplete == 1 and .totals.dropped.unclassified_blocks >= 2' '$WORK/nomem.json' > /dev/null"
check "nothing can read memory: stderr says the scan is incomplete" \
    grep -q "reachability scan could not read" "$WORK/nomem.err"
snap=$(ls "$WORK"/nomem/*.snap | head -1)
check "nothing can read memory: the process record says so (scan_flags, unscanned_bytes)" \
    bash -c "[ '$(record "$snap" scan_flags)' = 1 ] && [ '$(record "$snap" unscanned_bytes)' -gt 0 ]"

# ------------------------------------------------ a forked child's exit
# The child exits without exec. What it inherited is the parent's to report; reading it all made
# the child's exit cost as much as the parent's (0.15 s against 0.011 s natively for 200 MiB), and its
# snapshot counted the parent's leaks a second time.
mkdir "$WORK/fork"
IMGLEAK_OUT="$WORK/fork" LD_PRELOAD=$SHIM $B/tests/forkbig 32 > "$WORK/fork.out" 2> "$WORK/fork.err"
check "a forked child that exits: the program runs as without the shim" \
    grep -qx "forkbig: child exited 0" "$WORK/fork.out"
child="" parent=""
for f in "$WORK"/fork/*.snap; do
    $IMGLEAK report --show-reachable --format json "$f" > "$f.json"
    if [ -n "$(sites "$f.json" child_block)" ]; then child=$f; else parent=$f; fi
done
check "a forked child: its snapshot holds what it allocated, not the heap it inherited" \
    bash -c "[ -n '$child' ] && [ \"\$(jq -c '[.leaks[] | select(.in_app) | .site.function] | sort' '$child.json')\" = '[\"child_block\",\"child_cached\",\"child_leak\"]' ]"
check "a forked child: a block only its parent's (inherited) structure keeps is reachable" \
    test "$(sites "$child.json" child_cached)" = "reachable:88"
check "a forked child: a block it loses is leaked" \
    test "$(sites "$child.json" child_leak)" = "leaked:56"
check "a forked child: its own block is still classified (reachable)" \
    test "$(sites "$child.json" child_block)" = "reachable:72"
check "a forked child: the scan says the inherited heap was not read (scan_flags 4), quietly" \
    bash -c "[ '$(record "$child" scan_flags)' = 4 ] && ! grep -q 'could not read' '$WORK/fork.err'"
check "a forked child: that is said, and is not lost data for the gate" \
    bash -c "$IMGLEAK gate --max-leaked-bytes 56 '$child' > /dev/null && $IMGLEAK report '$child' | grep -q 'forked child: only the blocks it made are listed'"
check "a forked child: the parent's snapshot keeps the parent's heap" \
    test "$(sites "$parent.json" parent_heap)" = "reachable:33554432 reachable:4096"
mkdir "$WORK/fork-always"
IMGLEAK_SCAN=always IMGLEAK_OUT="$WORK/fork-always" LD_PRELOAD=$SHIM $B/tests/forkbig 1 > /dev/null 2>&1
check "a forked child with IMGLEAK_SCAN=always: keeps and scans what it inherited" \
    test "$(for f in "$WORK"/fork-always/*.snap; do $IMGLEAK report --show-reachable --format json "$f" \
            | jq -r '[.leaks[] | select(.site.function == "parent_heap") | .class] | join(",")'
            record "$f" scan_flags; done | sort | tr '\n' ' ')" = "0 0 leaked,reachable,reachable reachable,reachable "

# libunwind's pipe (it reads and writes a byte through it to check an address when it unwinds
# through code without unwind tables) is the shim's, out of the program's numbers: the program's
# first open() returns 3 as natively, and files it puts at 3 and 4 are read and written as it wants
printf 'ABCDEFGH input line\n' > "$WORK/lowfds.in"
native=$("$B/tests/lowfds" "$WORK/lowfds.in" "$WORK/lowfds.native")
got=$(IMGLEAK_OUT="$WORK" LD_PRELOAD=$SHIM "$B/tests/lowfds" "$WORK/lowfds.in" "$WORK/lowfds.out")
check "libunwind's pipe: the program's descriptors are numbered as natively ($got)" \
    [ "$got" = "$native" ] && [ "$native" = "first open 3, read 20 bytes: ABCDEFGH input line" ]
check "... and the file it wrote at fd 4 is what it read from fd 3, not a byte more" \
    cmp -s "$WORK/lowfds.in" "$WORK/lowfds.out"

# a vfork child runs on its parent's memory: what it does to its signal handlers and descriptors
# is its own (before, it took the parent's SIGUSR2 handler away, and its descriptors were charged
# to the parent)
got=$("$IMGLEAK" run --format json --report "$WORK/vfork.json" -- "$B/tests/vforker" 2> /dev/null)
check "vfork: the child's reset of SIGUSR2 leaves the parent's handler ($got)" [ "$got" = "handler ran 1" ]
line=$(grep -n "vforker: the parent's leak" tests/integration/vforker.c | cut -d: -f1)
check "vfork: the parent's open descriptor is its leak, the child's is not" \
    jqe --argjson l "$line" '[.handles[] | [.type, .function, .site.line, .count]] == [["fd", "open", $l, 1]]' \
    "$WORK/vfork.json"
cat > "$WORK/vfork.py" << 'PY'
import os, signal, subprocess
got = []
signal.signal(signal.SIGUSR2, lambda s, f: got.append(s))
subprocess.run(["true"])  # CPython 3.11 starts it with vfork
os.kill(os.getpid(), signal.SIGUSR2)
print("handled", len(got))
PY
got=$(IMGLEAK_OUT="$WORK" LD_PRELOAD=$SHIM /usr/bin/python3 "$WORK/vfork.py" 2> /dev/null)
check "vfork: Python's SIGUSR2 handler still runs after subprocess.run ($got)" [ "$got" = "handled 1" ]

finish tracking
