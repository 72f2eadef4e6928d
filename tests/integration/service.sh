#!/usr/bin/env bash
# Running services: snapshots on a timer and on SIGUSR2, growth over a series, SIGKILL leaving
# whole files, IMGLEAK_KEEP, sampled estimates against full tracking, and the RSS reconciliation
# on a fragmented heap under glibc and jemalloc. Prints "N passed, M failed".
set -u
B=${B:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
IMGLEAK=$B/imgleak
SHIM=$(realpath "$B/libimgleak.so")
SERVICE=$B/workloads/wl_service
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
. "$ROOT/tests/integration/lib.sh"
snaps() { ls "$1"/imgleak.*.snap 2>/dev/null; } # imgleak.<pid>.<instance>.<seq>.snap
count() { snaps "$1" | wc -l; }
all_parse() { # every snapshot in DIR is whole: the analyzer reads each one
    local f
    for f in $(snaps "$1"); do
        $IMGLEAK report --format json "$f" > /dev/null 2> "$WORK/parse.err" ||
            { echo "     $f: $(cat "$WORK/parse.err")"; return 1; }
    done
}
# growth_of JSON FUNCTION FIELD: the field of the program's site named FUNCTION
growth_of() {
    jq -r --arg f "$2" "[.growth[] | select(.in_app and .site.function == \$f)][0].$3" "$1"
}

# ------------------------------------------------ a service with a leak and a warm-up cache
mkdir "$WORK/svc"
IMGLEAK_OUT="$WORK/svc" IMGLEAK_INTERVAL=1 LD_PRELOAD="$SHIM" \
    $SERVICE leak --seconds 6 > "$WORK/svc.out" &
pid=$!
sleep 2.5
kill -USR2 $pid
sleep 0.3
kill -USR2 $pid
wait $pid
check "service: exits normally under the shim" test $? = 0
check "service: its own SIGUSR2 handler still ran for both signals" \
    grep -q ", 2 SIGUSR2" "$WORK/svc.out"
n=$(count "$WORK/svc")
check "service: timer, signal and exit snapshots written (got $n, want >= 7)" test "$n" -ge 7
check "service: every snapshot parses" all_parse "$WORK/svc"
$IMGLEAK growth --format json -o "$WORK/growth.json" $(snaps "$WORK/svc")
check "growth: exits 0" test $? = 0
check "growth: the leaking site is a suspect" test "$(growth_of "$WORK/growth.json" make_thumbnail suspect)" = true
check "growth: the leaking site grows (slope > 0, last > first)" \
    jqe '[.growth[] | select(.site.function == "make_thumbnail")][0]
           | .slope_bytes_per_s > 0 and .last_bytes > .first_bytes' "$WORK/growth.json"
check "growth: the warm-up cache is not a suspect" \
    test "$(growth_of "$WORK/growth.json" warm_cache suspect)" = false
check "growth: nothing else of the program's is a suspect" \
    test "$(jq '[.growth[] | select(.in_app and .suspect)] | length' "$WORK/growth.json")" = 1
check "growth: the oldest leaked block is about as old as the run" \
    jqe '[.growth[] | select(.site.function == "make_thumbnail")][0].oldest_age_s >= 4' \
    "$WORK/growth.json"
$IMGLEAK report --format json -o "$WORK/series.json" $(snaps "$WORK/svc")
check "report on a series: includes growth[]" \
    test "$(growth_of "$WORK/series.json" make_thumbnail suspect)" = true
$IMGLEAK growth $(snaps "$WORK/svc") > "$WORK/growth.txt"
check "growth text: names the suspect with its file and line" \
    grep -q "SUSPECT.*make_thumbnail workloads/wl_service.c:" "$WORK/growth.txt"
$IMGLEAK growth "$(snaps "$WORK/svc" | head -n1)" > /dev/null 2> "$WORK/one.err"
check "growth: one snapshot is a usage error (exit 2)" test $? = 2

mkdir "$WORK/clean"
IMGLEAK_OUT="$WORK/clean" IMGLEAK_INTERVAL=0.5 LD_PRELOAD="$SHIM" \
    $SERVICE clean --seconds 5 > /dev/null
$IMGLEAK growth --format json -o "$WORK/clean.json" $(snaps "$WORK/clean")
check "growth, clean service: no suspect" \
    test "$(jq '[.growth[] | select(.suspect)] | length' "$WORK/clean.json")" = 0

# each process runs until it has seen 3 timed snapshots of its own, however slow the machine
mkdir "$WORK/fork"
timeout -s KILL 200 env IMGLEAK_OUT="$WORK/fork" IMGLEAK_INTERVAL=0.1 LD_PRELOAD="$SHIM" \
    $B/tests/forker "$WORK/fork" 3 > "$WORK/fork.out"
check "fork: parent and child ran until each saw its timed snapshots" grep -qx done "$WORK/fork.out"
python3 tests/integration/snapid.py $(snaps "$WORK/fork") > "$WORK/fork.txt"
per_pid=$(awk '$5 == 0 { n[$2]++ } END { for (p in n) print n[p] }' "$WORK/fork.txt" | sort -n | tr '\n' ' ')
check "fork: parent and child each write timed snapshots (timed, per pid: $per_pid)" \
    test "$(echo $per_pid | wc -w)" = 2 -a "$(echo $per_pid | cut -d' ' -f1)" -ge 3
check "fork: the child has an instance id of its own" \
    test "$(awk '{ print $2, $3 }' "$WORK/fork.txt" | sort -u | wc -l)" = 2 -a \
         "$(awk '{ print $3 }' "$WORK/fork.txt" | sort -u | wc -l)" = 2

# ------------------------------------------------ SIGKILL and IMGLEAK_KEEP
mkdir "$WORK/kill"
IMGLEAK_OUT="$WORK/kill" IMGLEAK_INTERVAL=0.05 LD_PRELOAD="$SHIM" \
    $SERVICE leak --seconds 30 --interval-ms 0 > /dev/null &
pid=$!
sleep 2
kill -KILL $pid
wait $pid 2> /dev/null
n=$(count "$WORK/kill")
check "SIGKILL: snapshots were written before the kill (got $n)" test "$n" -ge 5
check "SIGKILL: every snapshot left behind is whole" all_parse "$WORK/kill"

mkdir "$WORK/keep"
IMGLEAK_OUT="$WORK/keep" IMGLEAK_INTERVAL=0.1 IMGLEAK_KEEP=3 LD_PRELOAD="$SHIM" \
    $SERVICE leak --seconds 1.5 > /dev/null
n=$(count "$WORK/keep")
last=$(snaps "$WORK/keep" | sed 's/.*\.\([0-9]*\)\.snap$/\1/' | sort -n | tail -n1)
check "IMGLEAK_KEEP=3: three snapshots kept (got $n), the newest among them ($last >= 10)" \
    test "$n" = 3 -a "$last" -ge 10

# the snapshot thread ends before the exit snapshot: a program with one thread of its own is then
# alone, and its blocks are scanned in the live table's memory instead of copied and read through
# process_vm_readv (2M live blocks: 0.34 s at exit against 2.1 s)
mkdir "$WORK/alone"
IMGLEAK_DEBUG=1 IMGLEAK_OUT="$WORK/alone" IMGLEAK_INTERVAL=0.05 LD_PRELOAD="$SHIM" \
    sleep 0.3 2> "$WORK/alone.log"
check "periodic snapshots, then exit: the snapshot thread is gone, the exit scan is in place" \
    eval 'test "$(count "$WORK/alone")" -ge 2 &&
          grep -q "scan: the blocks in the live table.s own memory" "$WORK/alone.log"'

# ------------------------------------------------ sampling: unbiased estimates
$IMGLEAK run --format json --report "$WORK/full.json" -- $B/tests/bigleak > /dev/null
for i in 1 2 3; do
    IMGLEAK_SAMPLE=524288 $IMGLEAK run --format json --report "$WORK/sample$i.json" \
        -- $B/tests/bigleak > /dev/null
done
within10() { # within10 FULL SAMPLED JQ: |sampled - full| <= 10% of full
    local f s
    f=$(jq "$3" "$1"); s=$(jq "$3" "$2")
    awk -v f="$f" -v s="$s" 'BEGIN { d = s - f; if (d < 0) d = -d; exit !(f > 0 && d <= f / 10) }' ||
        { echo "     full $f, sampled $s"; return 1; }
}
large='[.leaks[] | select(.site.function == "leak_large")][0].bytes'
for i in 1 2 3; do
    check "sampling run $i: marked as an estimate" jqe '.totals.estimated' "$WORK/sample$i.json"
    check "sampling run $i: leaked bytes within 10% of full tracking" \
        within10 "$WORK/full.json" "$WORK/sample$i.json" .totals.leaked_bytes
    check "sampling run $i: the largest site within 10% too" \
        within10 "$WORK/full.json" "$WORK/sample$i.json" "$large"
done

# ------------------------------------------------ where RSS went: fragmentation, glibc and jemalloc
$IMGLEAK run --format json --report "$WORK/frag.json" -- $B/tests/fragment > /dev/null
check "fragmentation (glibc): nothing of the program's is live at exit" \
    test "$(jq '[.leaks[] | select(.in_app)] | length' "$WORK/frag.json")" = 0
check "fragmentation (glibc): the RSS gap is called allocator retention" \
    jqe '.snapshots[0].memory | .retention and .allocator_free > 100000000' "$WORK/frag.json"
# rss_parts: the parts of RSS add up to what was measured with them, and that is RSS to within
# two pages (VmRSS is read a moment before the mappings are)
rss_parts() {
    jqe '.snapshots[0].memory | .measured and .live_heap + .allocator_overhead + .mappings + .shim
           + .other == .resident and (.resident - .rss) * (.resident - .rss) <= 8192 * 8192' "$1"
}
check "fragmentation (glibc): RSS reconciles (heap + overhead + mappings + imgleak + rest = RSS)" \
    rss_parts "$WORK/frag.json"
check "fragmentation (glibc): imgleak's own memory is a part of its own" \
    jqe '.snapshots[0].memory.shim > 0' "$WORK/frag.json"
$IMGLEAK run --format json --report "$WORK/trim.json" -- $B/tests/fragment 3000 65536 trim > /dev/null
check "malloc_trim(0): memory given back to the kernel is not called retention" \
    jqe '.snapshots[0].memory | (.retention | not) and .allocator_free < 1048576
           and .allocator_overhead < 1048576' "$WORK/trim.json"
check "malloc_trim(0): though glibc still counts it free" \
    jqe '.snapshots[0].glibc.free > 100000000' "$WORK/trim.json"
check "malloc_trim(0): RSS reconciles" rss_parts "$WORK/trim.json"
# glibc's in-use figure is what the hooks counted, chunk by chunk (no walk of its free lists):
# 3000 live 208-byte chunks (grown by realloc), and a few KiB of the program's start; mapped,
# the 1 MiB calloc()ed block; the same when sampling, where most blocks are never recorded
glibc_keep() {
    jqe '.snapshots[0].glibc | .in_use >= 3000 * 208 and .in_use < 3000 * 208 + 65536
           and .arena >= 190000000 and .free == .arena - .in_use
           and .mmapped >= 1048576 and .mmapped <= 1048576 + 8192' "$1"
}
$IMGLEAK run --format json --report "$WORK/keep.json" -- $B/tests/fragment 3000 65536 keep > /dev/null
check "glibc in use: the chunks the program holds, counted through malloc, realloc, calloc, posix_memalign and free" \
    glibc_keep "$WORK/keep.json"
IMGLEAK_SAMPLE=65536 $IMGLEAK run --format json --report "$WORK/keep-sampled.json" \
    -- $B/tests/fragment 3000 65536 keep > /dev/null
check "glibc in use, sampled: the same, with frees of blocks never recorded counted too" \
    glibc_keep "$WORK/keep-sampled.json"
IMGLEAK_SAMPLE=65536 $IMGLEAK run --format json --report "$WORK/trim-sampled.json" \
    -- $B/tests/fragment 3000 65536 trim > /dev/null
check "malloc_trim(0), sampled: no retention claimed" \
    jqe '.snapshots[0].memory | (.retention | not) and .allocator_free < 1048576' "$WORK/trim-sampled.json"
check "malloc_trim(0), sampled: RSS reconciles" rss_parts "$WORK/trim-sampled.json"
$IMGLEAK run -- $B/tests/fragment 3000 65536 trim 2> "$WORK/trim.txt" > /dev/null
check "malloc_trim(0): the text gives imgleak's own memory its own part and claims no retention" \
    eval 'grep -q "+ imgleak itself [0-9.]* [KM]iB + the rest" "$WORK/trim.txt" &&
          ! grep -q "allocator retention" "$WORK/trim.txt"'
$IMGLEAK run -- $B/tests/fragment 2> "$WORK/frag.txt" > /dev/null
check "fragmentation (glibc): the text names the remedies" \
    grep -q "allocator retention.*malloc_trim.*MALLOC_ARENA_MAX.*jemalloc" "$WORK/frag.txt"
$IMGLEAK run --allocator jemalloc --format json --report "$WORK/frag-je.json" \
    -- $B/tests/fragment > /dev/null
check "--allocator jemalloc: the program ran on jemalloc" \
    test "$(jq -r '.snapshots[0].allocator' "$WORK/frag-je.json")" = jemalloc
check "--allocator jemalloc: nothing of the program's is live at exit" \
    test "$(jq '[.leaks[] | select(.in_app)] | length' "$WORK/frag-je.json")" = 0
check "--allocator jemalloc: jemalloc's resident memory reconciled" \
    jqe '.snapshots[0].memory | .allocator_held == .allocator_overhead + .live_heap
           and .live_heap + .allocator_overhead + .mappings + .shim + .other == .resident' \
           "$WORK/frag-je.json"
echo "     RSS at exit: glibc $(jq .snapshots[0].memory.rss "$WORK/frag.json")," \
     "jemalloc $(jq .snapshots[0].memory.rss "$WORK/frag-je.json")"
$IMGLEAK run --allocator tcmalloc -- true 2> /dev/null
check "--allocator with an unknown name: exit 2" test $? = 2

finish service
