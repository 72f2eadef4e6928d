#!/usr/bin/env bash
# Data lost or misread never in silence: two processes with one pid stay two (report, gate,
# growth); what the shim could not record (full tables, stacks not kept, snapshots not written,
# an incomplete scan) is in the report's header, JSON and HTML and fails the gate unless
# --accept-dropped; one unreadable snapshot among several is skipped with a warning, not fatal.
# Test snapshots with one pid and two instances are real snapshots rewritten by snapedit.py.
# Prints "N passed, M failed".
set -u
B=${B:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
IMGLEAK=$B/imgleak
ASAN_IMGLEAK=$B/asan/imgleak
SRC=tests/integration
EDIT="python3 $SRC/snapedit.py"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
. "$ROOT/tests/integration/lib.sh"
# jq -e passes on empty input: an imgleak that wrote nothing must not pass a check
status_is() { # status_is WANT COMMAND...: the command exits with WANT (output in $WORK/out, err)
    local want=$1; shift
    "$@" > "$WORK/out" 2> "$WORK/err"
    local got=$?
    [ "$got" = "$want" ] || { echo "     exit $got, expected $want: $(head -c 300 "$WORK/err")"; return 1; }
}
has() { grep -qF -- "$1" "${2:-$WORK/out}" || { echo "     no '$1' in: $(head -c 400 "${2:-$WORK/out}")"; return 1; }; }
lacks() { ! grep -qF -- "$1" "${2:-$WORK/out}"; }
# the header: every line before the first call site (a blank line)
header() { sed '/^$/q' "$WORK/out"; }
in_header() { header | grep -qF -- "$1" || { echo "     header lacks '$1': $(header | head -c 400)"; return 1; }; }

cc -O0 -g -o "$WORK/leaky" $SRC/leaky.c
cc -O1 -g -o "$WORK/manystacks" $SRC/manystacks.c
cc -O0 -g -pthread -o "$WORK/stress" $SRC/stress.c
$IMGLEAK run -o "$WORK/one" -- "$WORK/leaky" leak > /dev/null 2>&1
$IMGLEAK run -o "$WORK/clean" -- "$WORK/leaky" clean > /dev/null 2>&1
ONE=$(ls "$WORK"/one/*.snap)
CLEAN=$(ls "$WORK"/clean/*.snap)
ONE_BYTES=$($IMGLEAK report --format json "$ONE" | jq .totals.leaked_bytes)
check "setup: leaky leaks" test "$ONE_BYTES" -gt 0

# ------------------------------------------------ two processes with one pid (item 14)
$EDIT "$ONE" "$WORK/pid1.a.snap" pid=1 instance=1111111111111111
$EDIT "$ONE" "$WORK/pid1.b.snap" pid=1 instance=2222222222222222
check "same pid, two instances: report lists both processes" \
    status_is 0 $IMGLEAK report "$WORK/pid1.a.snap" "$WORK/pid1.b.snap"
check "... each named by its instance" \
    test "$(grep -cE '^  pid 1 \(instance (1111111111111111|2222222222222222)\)' "$WORK/out")" = 2
check "... and the leaks of both counted" has "$((ONE_BYTES * 2 / 1024)).$(( (ONE_BYTES * 2 % 1024) * 10 / 1024 )) KiB in"
$IMGLEAK report --format json "$WORK/pid1.a.snap" "$WORK/pid1.b.snap" > "$WORK/pid1.json"
check "... JSON: two snapshots, with their instances" \
    jqe '[.snapshots[].instance] | sort == ["1111111111111111","2222222222222222"]' "$WORK/pid1.json"
check "... JSON: the leaks of both" jqe ".totals.leaked_bytes == $((ONE_BYTES * 2))" "$WORK/pid1.json"
check "gate counts both processes' leaks" \
    status_is 1 $IMGLEAK gate "$WORK/pid1.a.snap" "$WORK/pid1.b.snap"
check "... $((ONE_BYTES * 2)) bytes" has "FAILED: $((ONE_BYTES * 2)) bytes in"
$EDIT "$ONE" "$WORK/old.a.snap" pid=7 instance=0 start_time=1000
$EDIT "$ONE" "$WORK/old.b.snap" pid=7 instance=0 start_time=2000
check "older files (no instance id): pid and start time tell processes apart" \
    jqe ".totals.leaked_bytes == $((ONE_BYTES * 2)) and (.snapshots | length) == 2" \
    <($IMGLEAK report --format json "$WORK/old.a.snap" "$WORK/old.b.snap")
for i in a b; do for q in 1 2 3; do
    $EDIT "$ONE" "$WORK/series.$i.$q.snap" pid=1 instance=$i$i$i sequence=$q time=$((1700000000000000000 + q * 1000000000))
done; done
check "growth keeps the series of two processes with one pid apart" status_is 0 \
    $IMGLEAK growth --format json "$WORK"/series.*.snap
check "... two processes of three snapshots each" \
    jqe '[.processes[] | [.pid, .instance, .snapshots]] | sort == [[1,"0000000000000aaa",3],[1,"0000000000000bbb",3]]' "$WORK/out"
check "report over both series: each process's latest snapshot counts, once" \
    jqe ".totals.leaked_bytes == $((ONE_BYTES * 2)) and (.snapshots | map(.sequence)) == [3,3]" \
    <($IMGLEAK report --format json "$WORK"/series.*.snap)
check "one snapshot named twice counts once" \
    jqe ".totals.leaked_bytes == $ONE_BYTES" <($IMGLEAK report --format json "$ONE" "$ONE")
# for real: two programs that are both pid 1, each in its own pid namespace (needs root)
if unshare -p -f --mount-proc true 2> /dev/null; then
    SHIM=$(cd "$B" && pwd)/libimgleak.so
    for ns in ns1 ns2; do
        mkdir "$WORK/$ns"
        unshare -p -f --mount-proc env LD_PRELOAD="$SHIM" IMGLEAK_OUT="$WORK/$ns" "$WORK/leaky" leak > /dev/null 2>&1
    done
    check "pid namespaces: both programs were pid 1" \
        test "$(ls "$WORK"/ns1/imgleak.1.*snap "$WORK"/ns2/imgleak.1.*snap | wc -l)" = 2
    check "pid namespaces: report and gate count both" \
        status_is 1 $IMGLEAK gate "$WORK"/ns1/*.snap "$WORK"/ns2/*.snap
    check "... $((ONE_BYTES * 2)) bytes" has "FAILED: $((ONE_BYTES * 2)) bytes in"
    check "... JSON: two processes" jqe ".totals.leaked_bytes == $((ONE_BYTES * 2)) and (.snapshots | map(.pid)) == [1,1]" \
        <($IMGLEAK report --format json "$WORK"/ns1/*.snap "$WORK"/ns2/*.snap)
else
    echo "skip pid namespaces: unshare -p needs root"
fi

# ------------------------------------------------ a full live table (item 15)
IMGLEAK_MAX_LIVE=64 $IMGLEAK run -o "$WORK/full" --format json --report "$WORK/full.json" \
    -- "$WORK/stress" 2 20000 > /dev/null 2>&1
check "full live table: JSON totals.dropped says so" \
    jqe '.totals.dropped.any and .totals.dropped.table_full > 0' "$WORK/full.json"
check "... and the process's dropped object" jqe '.snapshots[0].dropped.table_full > 0' "$WORK/full.json"
check "... text: the header says so" status_is 0 $IMGLEAK report "$WORK"/full/*.snap
check "... (live table full: IMGLEAK_MAX_LIVE)" in_header "allocations (live table full: IMGLEAK_MAX_LIVE)"
check "... (incomplete)" in_header "incomplete: leaks may be missing"
check "gate: a full live table fails within the byte limit (exit 1)" \
    status_is 1 $IMGLEAK gate --max-leaked-bytes 100000000 "$WORK"/full/*.snap
check "... saying why in one line" \
    test "$(grep -c '^imgleak gate: data lost: .* allocations not tracked (live table full' "$WORK/out")" = 1
check "... and never 'passed'" lacks "passed" "$WORK/out"
check "gate --accept-dropped passes (exit 0)" \
    status_is 0 $IMGLEAK gate --accept-dropped --max-leaked-bytes 100000000 "$WORK"/full/*.snap
check "gate on the JSON report fails too" \
    status_is 1 $IMGLEAK gate --max-leaked-bytes 100000000 "$WORK/full.json"
check "gate --junit: a failing 'no data lost' case" \
    status_is 1 $IMGLEAK gate --max-leaked-bytes 100000000 --junit "$WORK/full.xml" "$WORK/full.json"
check "... in the XML" grep -q 'name="no data lost (or --accept-dropped)">' "$WORK/full.xml"
$IMGLEAK report --format html -o "$WORK/full.html" "$WORK"/full/*.snap
check "html: the data says what was dropped" grep -qF '"dropped":{"any":true,"table_full":' "$WORK/full.html"
check "html: the page has a place for it at the top" grep -qF '<div id="lost" class="lost"></div>' "$WORK/full.html"
if command -v chromium > /dev/null; then
    timeout 120 chromium --headless --no-sandbox --disable-gpu --window-size=1200,900 \
        --virtual-time-budget=5000 --dump-dom "file://$WORK/full.html" > "$WORK/full.dom" 2> /dev/null
    check "html: Chromium draws it at the top" \
        grep -qE '<div id="lost" class="lost">Incomplete: leaks may be missing from these figures. [0-9]+ allocations not tracked \(live table full\)' "$WORK/full.dom"
fi

# ------------------------------------------------ a full stack table: leaks with no stack (item 15)
IMGLEAK_MAX_STACKS=16 $IMGLEAK run -o "$WORK/nostack" --format json --report "$WORK/nostack.json" \
    -- "$WORK/manystacks" 64 > /dev/null 2>&1
check "full stack table: leaks with no stack are unattributed in JSON" \
    jqe '.totals.dropped.stacks > 0 and .totals.dropped.unattributed_blocks > 0 and any(.leaks[]; .no_stack)' "$WORK/nostack.json"
check "gate: leaks with no stack fail the gate (exit 1)" \
    status_is 1 $IMGLEAK gate --max-leaked-bytes 100000000 "$WORK"/nostack/*.snap
check "... as unattributed" has "unattributed (no stack to charge):"
check "... not as 'not the program's'" lacks "not counted (no frame of the program)"
check "... passes with --accept-dropped" \
    status_is 0 $IMGLEAK gate --accept-dropped --max-leaked-bytes 100000000 "$WORK/nostack.json"
check "text: the header says they are unattributed" status_is 0 $IMGLEAK report "$WORK"/nostack/*.snap
check "... (unattributed:)" in_header "unattributed: "

# ------------------------------------------------ an incomplete scan (item 15), snapshots not written (item 16)
$EDIT "$ONE" "$WORK/partial.snap" scan_flags=1 unscanned=8192 leaked_to_unknown=1
check "incomplete scan: its unclassified blocks are never called leaked" \
    jqe '.totals.leaked_bytes == 0 and .totals.dropped.unclassified_blocks > 0 and .totals.dropped.scan_incomplete == 1' \
    <($IMGLEAK report --format json "$WORK/partial.snap")
check "... JSON: the process's scan object" \
    jqe '.snapshots[0].scan == {"incomplete":true,"skipped":false,"unscanned_bytes":8192}' \
    <($IMGLEAK report --format json "$WORK/partial.snap")
check "... text: the header says the scan was incomplete" status_is 0 $IMGLEAK report "$WORK/partial.snap"
check "... (reachability scan incomplete)" in_header "reachability scan incomplete in 1 process: 8.0 KiB could not be read"
check "... gate fails (exit 1)" status_is 1 $IMGLEAK gate "$WORK/partial.snap"
check "... and passes with --accept-dropped" status_is 0 $IMGLEAK gate --accept-dropped "$WORK/partial.snap"
$EDIT "$CLEAN" "$WORK/failed.snap" failed=3
check "snapshots not written: the header says so" status_is 0 $IMGLEAK report "$WORK/failed.snap"
check "... (3 snapshots)" in_header "3 snapshots the program could not write"
check "... JSON: per process and in total" \
    jqe '.snapshots[0].dropped.failed_snapshots == 3 and .totals.dropped.failed_snapshots == 3' \
    <($IMGLEAK report --format json "$WORK/failed.snap")
check "... gate fails on a clean program (exit 1)" status_is 1 $IMGLEAK gate "$WORK/failed.snap"
check "... saying why" has "imgleak gate: data lost: 3 snapshots the program could not write"
check "... passes with --accept-dropped" status_is 0 $IMGLEAK gate --accept-dropped "$WORK/failed.snap"
IMGLEAK_SAMPLE=4096 $IMGLEAK run -o "$WORK/sampled" -- "$WORK/leaky" leak > /dev/null 2>&1
check "sampled: the gate says its figures are estimates" \
    status_is 1 $IMGLEAK gate "$WORK"/sampled/*.snap
check "... (estimates)" has "figures are estimates from sampled allocations"

# ------------------------------------------------ one bad snapshot in a series (item 20)
$EDIT "$WORK/series.a.2.snap" "$WORK/series.a.2.snap" truncate=300
check "growth: a truncated snapshot in a series is skipped (exit 0)" \
    status_is 0 $IMGLEAK growth "$WORK"/series.*.snap
check "... one line on stderr naming it and why" \
    test "$(grep -c "^imgleak: warning: skipped $WORK/series.a.2.snap: truncated file" "$WORK/err")" = 1
check "... the growth output counts it" has "skipped: 1 unreadable snapshot"
check "... the others still make two series" test "$(grep -c '^growth: pid 1 (instance' "$WORK/out")" = 2
check "report over the series: skipped, exit 0" \
    status_is 0 $IMGLEAK report --format json "$WORK"/series.*.snap
check "... JSON counts it and says why" \
    jqe ".totals.dropped.skipped_snapshots == 1 and .totals.dropped.final_missing == false and .skipped[0].file == \"$WORK/series.a.2.snap\" and (.skipped[0].error | startswith(\"truncated file\"))" "$WORK/out"
check "... the text header counts it" status_is 0 $IMGLEAK report "$WORK"/series.*.snap
check "... (skipped: 1)" in_header "skipped: 1 unreadable snapshot"
check "gate over the series: its verdict on the readable ones" \
    status_is 1 $IMGLEAK gate "$WORK"/series.*.snap
check "... saying what was skipped" has "1 unreadable snapshot skipped"
printf 'garbage' > "$WORK/series.b.4.snap"
check "garbage that may be a final state: the report is written, exit 2" \
    status_is 2 $IMGLEAK report --format json "$WORK"/series.*.snap
check "... with the readable snapshots" jqe ".totals.leaked_bytes == $((ONE_BYTES * 2)) and .totals.dropped.final_missing" "$WORK/out"
check "... and one line saying why" grep -q "^imgleak: a skipped snapshot may hold a process's final state" "$WORK/err"
check "a lone unreadable snapshot is bad input (exit 2)" status_is 2 $IMGLEAK report "$WORK/series.b.4.snap"
check "... in one line" test "$(wc -l < "$WORK/err")" = 1
check "none of several snapshots readable: bad input (exit 2)" \
    status_is 2 $IMGLEAK report "$WORK/series.b.4.snap" "$WORK/series.a.2.snap"
check "... in one line" test "$(wc -l < "$WORK/err")" = 1
# imgleak run: the program leaves a damaged older snapshot of its own pid among its snapshots
cat > "$WORK/damaged.sh" <<SH
#!/bin/sh
env -u LD_PRELOAD python3 $ROOT/$SRC/snapedit.py "$ONE" "\$IMGLEAK_OUT/imgleak.\$\$.0.snap" pid=\$\$ sequence=0 truncate=500
exec "$WORK/leaky" leak
SH
chmod +x "$WORK/damaged.sh"
check "run: a damaged snapshot among the run's is skipped (the program's status, 0)" \
    status_is 0 $IMGLEAK run --format json --report "$WORK/run.json" -- "$WORK/damaged.sh"
check "... named on stderr" grep -q "^imgleak: warning: skipped .*/imgleak\.[0-9]*\.0\.snap: truncated file" "$WORK/err"
check "... the report is on the rest" \
    jqe ".totals.leaked_bytes == $ONE_BYTES and .totals.dropped.skipped_snapshots == 1" "$WORK/run.json"
cat > "$WORK/garbled.sh" <<SH
#!/bin/sh
printf 'garbage' > "\$IMGLEAK_OUT/imgleak.\$\$.99.snap"
exec "$WORK/leaky" leak
SH
chmod +x "$WORK/garbled.sh"
check "run --gate: garbage that may be the final state: exit 2" \
    status_is 2 $IMGLEAK run --gate --format json --report "$WORK/garbled.json" -- "$WORK/garbled.sh"
check "... the report is still written" jqe ".totals.leaked_bytes == $ONE_BYTES and .totals.dropped.final_missing" "$WORK/garbled.json"
check "... the gate's verdict still printed" grep -q "^imgleak gate: FAILED: $ONE_BYTES bytes" "$WORK/err"
check "... the reason said once" test "$(grep -c "final state" "$WORK/err")" = 1

# ------------------------------------------------ the same under ASan/UBSan
if [ -x "$ASAN_IMGLEAK" ]; then
    asan_clean() { status_is "$@" && ! grep -qE "AddressSanitizer|runtime error|LeakSanitizer" "$WORK/err" ||
        { head -5 "$WORK/err"; return 1; }; }
    check "asan: report with a skipped snapshot and two processes of one pid" \
        asan_clean 2 $ASAN_IMGLEAK report --format json "$WORK"/series.*.snap
    check "asan: growth with a skipped snapshot" asan_clean 0 $ASAN_IMGLEAK growth --format json \
        "$WORK"/series.a.*.snap "$WORK"/series.b.[123].snap
    check "asan: gate on lost data" asan_clean 1 $ASAN_IMGLEAK gate "$WORK"/nostack/*.snap
    check "asan: html with lost data" asan_clean 0 $ASAN_IMGLEAK report --format html -o "$WORK/asan.html" "$WORK"/full/*.snap
fi
finish "dataloss"
