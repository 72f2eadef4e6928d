#!/usr/bin/env bash
# The analyzer at scale: a series of 12 snapshots of 20000 call sites each (bench/gensnap) is read
# one snapshot at a time and symbolized once: growth's peak memory stays near one snapshot's
# (holding them all took 760 MB), a module missing on disk is warned about once for the series
# (once per snapshot before), and every site is its own series with the growing ones suspects;
# a series of sites of several classes is described as a sorted report would (growth.c).
# The timings at full size are make bench-analyzer's. Prints "N passed, M failed".
set -u
B=${B:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
IMGLEAK=${IMGLEAK:-$B/imgleak}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
. "$ROOT/tests/integration/lib.sh"

mkdir -p "$WORK/series"
$B/bench/gensnap series 20000 12 $B/imgleak "$WORK/series"
check "gensnap wrote the 12 snapshots" test "$(ls "$WORK"/series/*.snap | wc -l)" = 12

/usr/bin/time -f '%M' -o "$WORK/growth.rss" $IMGLEAK growth --format json -o "$WORK/growth.json" \
    "$WORK"/series/*.snap 2> "$WORK/growth.err"
check "growth over the series succeeds" jqe '.processes[0].snapshots == 12' "$WORK/growth.json"
rss=$(tail -n1 "$WORK/growth.rss")
check "growth holds one snapshot at a time (peak ${rss} KiB, under 300 MiB)" test "$rss" -lt 307200
missing=$(grep -c "service: not found" "$WORK/growth.err")
check "the missing program file is warned about once for the series (got $missing)" test "$missing" = 1
# ... and once for many processes that ran it (a build that ran a tool eighteen times)
mkdir -p "$WORK/procs"
cp "$B/tests/leaky" "$WORK/procs/gone_tool"
for _ in 1 2 3; do
    IMGLEAK_OUT="$WORK/procs" LD_PRELOAD="$(cd "$B" && pwd)/libimgleak.so" "$WORK/procs/gone_tool" leak > /dev/null 2>&1
done
rm "$WORK/procs/gone_tool"
$IMGLEAK report "$WORK"/procs/*.snap > /dev/null 2> "$WORK/procs.err"
said=$(grep -c "gone_tool: not found" "$WORK/procs.err")
check "a program file gone since 3 processes ran it: warned about once (got $said)" test "$said" = 1
# one site in 50 leaks a block per snapshot; a few land in default-suppressed C library code
check "growth: a series per site" jqe '(.growth | length) > 19900' "$WORK/growth.json"
check "growth: the growing sites are the suspects" \
    jqe '[.growth[] | select(.suspect)] | length == 400 and all(.slope_bytes_per_snapshot > 0)' "$WORK/growth.json"

$IMGLEAK report --format json -o "$WORK/report.json" "$WORK"/series/*.snap 2> /dev/null
check "report on the series: the latest snapshot's sites, and the same growth" \
    jqe --slurpfile g "$WORK/growth.json" \
    '.totals.sites == ($g[0].growth | length) and (.growth | length) == ($g[0].growth | length)' \
    "$WORK/report.json"

# growth builds each snapshot's report unsorted: a series whose snapshot holds sites of several
# classes is still described by the one a sorted report lists last (reachable after leaked): its
# oldest block is the reachable one, born 10 s after the leaked one (60 s into the process)
mkdir -p "$WORK/scanned"
$B/bench/gensnap scanned-series 2000 6 $B/imgleak "$WORK/scanned"
$IMGLEAK growth --format json -o "$WORK/scanned.json" "$WORK"/scanned/*.snap 2> /dev/null
check "growth: a series of leaked and reachable blocks is described by its reachable site" \
    jqe '(.growth | length) > 1900 and all(.growth[]; .oldest_age_s == 50)' "$WORK/scanned.json"

finish scale
