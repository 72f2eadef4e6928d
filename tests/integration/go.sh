#!/usr/bin/env bash
# Go programs calling C through cgo (workloads/go/): the gate passes the clean variant and fails
# the leaking one, the Go runtime's own memory never counts as leaked (even with the scan on
# every snapshot), and a long-running Go service's steady leak shows in imgleak growth.
set -u
B=${B:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
IMGLEAK=$B/imgleak
SHIM=$(readlink -f "$B/libimgleak.so")
WL=$B/workloads
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
. "$ROOT/tests/integration/lib.sh"
quiet() { "$@" > /dev/null 2>&1; }
fails_gate() { quiet "$@"; [ $? = 1 ]; }

check "clean Go program passes imgleak run --gate" quiet "$IMGLEAK" run --gate -- "$WL/wl_go" clean
check "... with the scan at every snapshot too (the runtime's reservations are no leak)" \
    quiet env IMGLEAK_SCAN=always IMGLEAK_INTERVAL=0.2 "$IMGLEAK" run --gate -o "$WORK/always" -- "$WL/wl_go" clean
check "leaking Go program fails the gate" fails_gate "$IMGLEAK" run --gate -- "$WL/wl_go" leak
"$IMGLEAK" run --format json --report "$WORK/leak.json" -- "$WL/wl_go" leak > /dev/null 2>&1
check "the Go runtime's memory is reported as its own kind" \
    jqe '.totals.go_runtime.bytes > 0 and ([.leaks[] | select(.site.function | startswith("x_cgo_")
          or startswith("runtime."))] | length == 0)' "$WORK/leak.json"
check "where RSS went: the Go heap's resident pages are split out" \
    jqe '.snapshots[0].memory.go_resident > 0 and .snapshots[0].memory.go_runtime_mmap
         > .snapshots[0].memory.go_resident' "$WORK/leak.json"
check "the C blocks the Go heap holds the address of are counted (the scan's blind spot)" \
    jqe '.snapshots[0].memory.go_heap_c_blocks > 0' "$WORK/leak.json"
"$IMGLEAK" run --format json --report "$WORK/clean.json" -- "$WL/wl_go" clean > /dev/null 2>&1
check "... and none in the clean variant, which frees them all" \
    jqe '.snapshots[0].memory.go_heap_c_blocks == 0' "$WORK/clean.json"

# a Go service with a steady leak, snapshots on a timer, then growth over the series
mkdir "$WORK/svc"
IMGLEAK_OUT="$WORK/svc" IMGLEAK_INTERVAL=0.5 LD_PRELOAD="$SHIM" \
    "$WL/wl_go_service" leak --seconds 4 > "$WORK/svc.out" 2>&1
check "Go service: exits normally under the shim" test $? = 0
check "Go service: timer snapshots and a final one (at least 5)" \
    test "$(ls "$WORK/svc"/imgleak.*.snap | wc -l)" -ge 5
"$IMGLEAK" growth --format json -o "$WORK/growth.json" "$WORK/svc"/imgleak.*.snap
check "growth: the Go function that leaks is the suspect" \
    jqe '[.growth[] | select(.in_app and .suspect) | .site.function] == ["main.makeThumbnail"]' \
    "$WORK/growth.json"
check "growth: the warm-up cache is not a suspect" \
    jqe '[.growth[] | select(.site.function == "main.warmCache")][0].suspect == false' "$WORK/growth.json"
finish go
