#!/usr/bin/env bash
# Go programs calling C through cgo (workloads/go/): the gate passes the clean variant and fails
# the leaking one, the Go runtime's own memory never counts as leaked (even with the scan on
# every snapshot), and a long-running Go service's steady leak shows in imgleak growth. With
# every Go toolchain built: the default's programs in $B/workloads, the others' in $B/go1.NN.
set -u
B=${B:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
IMGLEAK=$B/imgleak
SHIM=$(readlink -f "$B/libimgleak.so")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
. "$ROOT/tests/integration/lib.sh"
quiet() { "$@" > /dev/null 2>&1; }
fails_gate() { quiet "$@"; [ $? = 1 ]; }

# go_checks DIR LABEL: the checks on the programs one Go toolchain built
go_checks() {
    local WL=$1 V=$2
    check "$V: clean Go program passes imgleak run --gate" quiet "$IMGLEAK" run --gate -- "$WL/wl_go" clean
    check "$V: ... with the scan at every snapshot too (the runtime's reservations are no leak)" \
        quiet env IMGLEAK_SCAN=always IMGLEAK_INTERVAL=0.2 "$IMGLEAK" run --gate -o "$WORK/$V.always" -- "$WL/wl_go" clean
    check "$V: leaking Go program fails the gate" fails_gate "$IMGLEAK" run --gate -- "$WL/wl_go" leak
    "$IMGLEAK" run --format json --report "$WORK/$V.leak.json" -- "$WL/wl_go" leak > /dev/null 2>&1
    check "$V: the Go runtime's memory is reported as its own kind" \
        jqe '.totals.go_runtime.bytes > 0 and ([.leaks[] | select(.site.function | startswith("x_cgo_")
              or startswith("runtime."))] | length == 0)' "$WORK/$V.leak.json"
    check "$V: where RSS went: the Go heap's resident pages are split out" \
        jqe '.snapshots[0].memory.go_resident > 0 and .snapshots[0].memory.go_runtime_mmap
             > .snapshots[0].memory.go_resident' "$WORK/$V.leak.json"
    check "$V: the C blocks the Go heap holds the address of are counted (the scan's blind spot)" \
        jqe '.snapshots[0].memory.go_heap_c_blocks > 0' "$WORK/$V.leak.json"
    "$IMGLEAK" run --format json --report "$WORK/$V.clean.json" -- "$WL/wl_go" clean > /dev/null 2>&1
    check "$V: ... and none in the clean variant, which frees them all" \
        jqe '.snapshots[0].memory.go_heap_c_blocks == 0' "$WORK/$V.clean.json"

    # a Go service with a steady leak, snapshots on a timer, then growth over the series
    mkdir "$WORK/$V.svc"
    IMGLEAK_OUT="$WORK/$V.svc" IMGLEAK_INTERVAL=0.4 LD_PRELOAD="$SHIM" \
        "$WL/wl_go_service" leak --seconds 5 > "$WORK/$V.svc.out" 2>&1
    check "$V: Go service: exits normally under the shim" test $? = 0
    check "$V: Go service: timer snapshots and a final one (at least 5)" \
        test "$(ls "$WORK/$V.svc"/imgleak.*.snap | wc -l)" -ge 5
    "$IMGLEAK" growth --format json -o "$WORK/$V.growth.json" "$WORK/$V.svc"/imgleak.*.snap
    suspects=$(jq -c '[.growth[] | select(.in_app) | [.site.function, .suspect, .snapshots, .r2]]' \
        "$WORK/$V.growth.json" 2> /dev/null | head -c 300)
    check "$V: growth: the Go function that leaks is the suspect (sites: $suspects)" \
        jqe '[.growth[] | select(.in_app and .suspect) | .site.function] == ["main.makeThumbnail"]' \
        "$WORK/$V.growth.json"
    check "$V: growth: the warm-up cache is not a suspect" \
        jqe '[.growth[] | select(.site.function == "main.warmCache")][0].suspect == false' "$WORK/$V.growth.json"
}

go_checks "$B/workloads" "go$(go env GOVERSION 2>/dev/null | sed -E 's/^go([0-9]+\.[0-9]+).*/\1/')"
for dir in "$B"/go1.*; do
    [ -x "$dir/wl_go" ] && go_checks "$dir" "$(basename "$dir")"
done
finish go
