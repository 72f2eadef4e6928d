#!/usr/bin/env bash
# make bench: each benchmark natively, under imgleak with full tracking, under imgleak sampling
# (IMGLEAK_SAMPLE=524288), under `imgleak run` (full tracking, plus the exit supervision: the
# sentinel, the peak watch and the report at the end) and under heaptrack when it is installed;
# the configurations alternate
# within each round, RUNS rounds. Prints medians of wall time and peak RSS with ratios to native
# and to heaptrack, the shim's memory and snapshot bytes per live block, and the analyzer's
# time and memory on the live_heavy snapshot. Results also go to $B/bench/results.json.
set -u
B=${B:-build}
RUNS=${RUNS:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=$B/bench
SHIM=$ROOT/$B/libimgleak.so
MEASURE=$OUT/measure
mkdir -p "$OUT/tmp"
HEAPTRACK=$(command -v heaptrack || true)
LIVE_BLOCKS=2000000

BENCHES=(
    "malloc_churn_1t|$OUT/malloc_churn 1 1000000"
    "malloc_churn_2t|$OUT/malloc_churn 2 1000000"
    "decode_loop|$OUT/decode_loop 40"
    "live_heavy|$OUT/live_heavy $LIVE_BLOCKS"
    "deep_stacks|$OUT/deep_stacks 1000000"
)
CONFIGS=(native full sample run)
[ -n "$HEAPTRACK" ] && CONFIGS+=(heaptrack)

run_one() { # run_one CONFIG CMD... -> "wall rss_kb"
    local config=$1; shift
    rm -rf "$OUT/tmp"/*
    case $config in
    native) "$MEASURE" "$@" ;;
    full) IMGLEAK_OUT=$OUT/tmp LD_PRELOAD=$SHIM "$MEASURE" "$@" ;;
    sample) IMGLEAK_SAMPLE=524288 IMGLEAK_OUT=$OUT/tmp LD_PRELOAD=$SHIM "$MEASURE" "$@" ;;
    heaptrack) "$MEASURE" "$HEAPTRACK" -o "$OUT/tmp/ht" "$@" ;;
    run) "$MEASURE" "$ROOT/$B/imgleak" run -o "$OUT/tmp" --format json --report "$OUT/tmp/run.json" -- "$@" ;;
    esac
}

median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

declare -A WALL RSS
for bench in "${BENCHES[@]}"; do
    name=${bench%%|*}; cmd=${bench#*|}
    for ((r = 1; r <= RUNS; r++)); do
        for c in "${CONFIGS[@]}"; do
            # shellcheck disable=SC2086
            res=$(run_one "$c" $cmd 2>/dev/null | tail -n1) || { echo "bench: $name under $c failed" >&2; exit 1; }
            WALL[$name.$c]+="${res% *} "
            RSS[$name.$c]+="${res#* } "
        done
    done
done

json="{\"runs\": $RUNS, \"benchmarks\": {"
printf '%-16s %-10s %9s %9s %9s %10s %9s\n' benchmark config "wall s" "x native" "x heaptr" "peak MiB" "x native"
first=1
for bench in "${BENCHES[@]}"; do
    name=${bench%%|*}
    nat_w=$(tr ' ' '\n' <<< "${WALL[$name.native]}" | median)
    nat_r=$(tr ' ' '\n' <<< "${RSS[$name.native]}" | median)
    ht_w=nan
    [ -n "$HEAPTRACK" ] && ht_w=$(tr ' ' '\n' <<< "${WALL[$name.heaptrack]}" | median)
    [ $first = 1 ] || json+=","
    first=0
    json+="\"$name\": {"
    cfirst=1
    for c in "${CONFIGS[@]}"; do
        w=$(tr ' ' '\n' <<< "${WALL[$name.$c]}" | median)
        r=$(tr ' ' '\n' <<< "${RSS[$name.$c]}" | median)
        xw=$(awk -v a="$w" -v b="$nat_w" 'BEGIN {printf "%.2f", a / b}')
        xh=$(awk -v a="$w" -v b="$ht_w" 'BEGIN {if (b == "nan") print "-"; else printf "%.2f", a / b}')
        xr=$(awk -v a="$r" -v b="$nat_r" 'BEGIN {printf "%.2f", a / b}')
        printf '%-16s %-10s %9.3f %9s %9s %10.1f %9s\n' "$name" "$c" "$w" "$xw" "$xh" "$(awk -v r="$r" 'BEGIN {print r / 1024}')" "$xr"
        [ $cfirst = 1 ] || json+=","
        cfirst=0
        json+="\"$c\": {\"wall_s\": $w, \"peak_rss_kib\": $r, \"wall_x_native\": $xw, \"rss_x_native\": $xr$( [ "$xh" != - ] && echo ", \"wall_x_heaptrack\": $xh")}"
    done
    json+="}"
done
json+="}"

# memory per live block, snapshot size, and the analyzer on that snapshot
nat_r=$(tr ' ' '\n' <<< "${RSS[live_heavy.native]}" | median)
full_r=$(tr ' ' '\n' <<< "${RSS[live_heavy.full]}" | median)
per_block=$(awk -v a="$full_r" -v b="$nat_r" -v n=$LIVE_BLOCKS 'BEGIN {printf "%.1f", (a - b) * 1024 / n}')
rm -rf "$OUT/snap" && mkdir -p "$OUT/snap"
IMGLEAK_OUT=$OUT/snap LD_PRELOAD=$SHIM "$OUT/live_heavy" $LIVE_BLOCKS keep
snap=$(ls "$OUT"/snap/imgleak.*.snap | head -n1)
snap_bytes=$(stat -c %s "$snap")
snap_per_block=$(awk -v a="$snap_bytes" -v n=$LIVE_BLOCKS 'BEGIN {printf "%.1f", a / n}')
rep=$("$MEASURE" "$B/imgleak" report --format json -o "$OUT/tmp/report.json" "$snap" | tail -n1)
echo
echo "live_heavy: shim memory per live block: $per_block bytes (peak RSS under imgleak minus native, / $LIVE_BLOCKS)"
echo "live_heavy: snapshot $snap_bytes bytes for $LIVE_BLOCKS live blocks: $snap_per_block bytes per block, stacks included"
echo "imgleak report on it: ${rep% *} s, peak $(awk -v r="${rep#* }" 'BEGIN {printf "%.1f", r / 1024}') MiB"
json+=", \"live_heavy_shim_bytes_per_block\": $per_block, \"snapshot_bytes\": $snap_bytes, \"snapshot_bytes_per_block\": $snap_per_block"
json+=", \"report_wall_s\": ${rep% *}, \"report_peak_rss_kib\": ${rep#* }}"
echo "$json" > "$OUT/results.json"
echo "results: $OUT/results.json"
[ -n "$HEAPTRACK" ] || echo "heaptrack is not installed: apt-get install heaptrack for the comparison"
