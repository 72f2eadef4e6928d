#!/usr/bin/env bash
# make bench: each benchmark natively, with the malloc family only interposed and forwarded
# (interpose: bench/interpose.c, what any LD_PRELOAD tool pays before it records anything), under
# imgleak with full tracking, with full tracking and no reachability scan (noscan:
# IMGLEAK_SCAN=off, so freed blocks are not cleared for it either), under imgleak sampling
# (IMGLEAK_SAMPLE=524288), under `imgleak run` (full tracking plus the exit supervision: the
# sentinel, the peak watch and the report at the end), under heaptrack when it is installed and under LeakSanitizer (the same
# program built with -fsanitize=leak, its defaults) when the compiler has it; the configurations
# alternate within each round, RUNS rounds. Prints medians of wall time and peak RSS with ratios
# to native and to heaptrack (and the fastest run's ratio to native's fastest), the time the exit takes apart for live_exit (2M live blocks: the
# scan and the snapshot), the shim's memory and snapshot bytes per live block, and the analyzer's
# time and memory on the live_exit snapshot. Results also go to $B/bench/results.json.
set -u
B=${B:-build}
RUNS=${RUNS:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
OUT=$B/bench
SHIM=$ROOT/$B/libimgleak.so
MEASURE=$OUT/measure
mkdir -p "$OUT/tmp"
HEAPTRACK=$(command -v heaptrack || true)
LIVE_BLOCKS=2000000

# name|command|environment of the imgleak runs. recursion_100 keeps all of its 100 frames
# (IMGLEAK_DEPTH=128; the default keeps 32). live_exit keeps its 2M blocks to the end: the exit
# scan and snapshot are timed apart (from main's return to the process's end).
BENCHES=(
    "malloc_churn_1t|malloc_churn 1 1000000|"
    "malloc_churn_2t|malloc_churn 2 1000000|"
    "one_site_8t|one_site_threads 8 8000000|"
    "decode_loop|decode_loop 40|"
    "live_heavy|live_heavy $LIVE_BLOCKS|"
    "live_exit|live_heavy $LIVE_BLOCKS keep|"
    "deep_stacks|deep_stacks 1000000|"
    "recursion_100|recursion 300000 100|IMGLEAK_DEPTH=128"
)
CONFIGS=(native interpose full noscan sample run)
[ -n "$HEAPTRACK" ] && CONFIGS+=(heaptrack)
# LeakSanitizer: the benchmarks built with -fsanitize=leak by the Makefile, when the compiler could
[ -x "$OUT/lsan/malloc_churn" ] && CONFIGS+=(lsan)
# BASE_SHIM=path/libimgleak.so: another build of the shim (the commit before a change), full
# tracking, in the same interleaved rounds, to tell what the change bought on a busy machine
[ -n "${BASE_SHIM:-}" ] && CONFIGS+=(base)

run_one() { # run_one CONFIG ENV PROGRAM ARGS... -> "wall rss_kb end_s", after the program's output
    local config=$1 env=$2 prog=$3; shift 3
    rm -rf "$OUT/tmp"/*
    # $env is a list of assignments, split on purpose
    # shellcheck disable=SC2086
    case $config in
    native) "$MEASURE" "$OUT/$prog" "$@" ;;
    interpose) LD_PRELOAD=$OUT/interpose.so "$MEASURE" "$OUT/$prog" "$@" ;;
    full) env $env IMGLEAK_OUT=$OUT/tmp LD_PRELOAD=$SHIM "$MEASURE" "$OUT/$prog" "$@" ;;
    noscan) env $env IMGLEAK_SCAN=off IMGLEAK_OUT=$OUT/tmp LD_PRELOAD=$SHIM "$MEASURE" "$OUT/$prog" "$@" ;;
    sample) env $env IMGLEAK_SAMPLE=524288 IMGLEAK_OUT=$OUT/tmp LD_PRELOAD=$SHIM "$MEASURE" "$OUT/$prog" "$@" ;;
    heaptrack) "$MEASURE" "$HEAPTRACK" -o "$OUT/tmp/ht" "$OUT/$prog" "$@" ;;
    lsan) LSAN_OPTIONS=exitcode=0 "$MEASURE" "$OUT/lsan/$prog" "$@" ;;
    run) env $env "$MEASURE" "$ROOT/$B/imgleak" run -o "$OUT/tmp" --format json --report "$OUT/tmp/run.json" -- "$OUT/$prog" "$@" ;;
    base) env $env IMGLEAK_OUT=$OUT/tmp LD_PRELOAD=$BASE_SHIM "$MEASURE" "$OUT/$prog" "$@" ;;
    esac
}

# heaptrack on 2M blocks kept to the end takes tens of GB to write out its trace: not run there
skip() { [ "$1" = heaptrack ] && [ "$2" = live_exit ]; }

median() { sort -g | awk 'NF {v[++n] = $1} END {if (n == 0) print "nan"; else if (n % 2) print v[(n + 1) / 2]; else print (v[n / 2] + v[n / 2 + 1]) / 2}'; }
# the fastest run: on a machine whose speed swings, the steadier figure of what a program costs
minimum() { sort -g | awk 'NF {print; exit}'; }

declare -A WALL RSS EXIT
for bench in "${BENCHES[@]}"; do
    IFS='|' read -r name cmd env <<< "$bench"
    for ((r = 1; r <= RUNS; r++)); do
        for c in "${CONFIGS[@]}"; do
            skip "$c" "$name" && continue
            # shellcheck disable=SC2086
            out=$(run_one "$c" "$env" $cmd 2>/dev/null) || { echo "bench: $name under $c failed" >&2; exit 1; }
            read -r wall rss end <<< "$(tail -n1 <<< "$out")"
            WALL[$name.$c]+="$wall "
            RSS[$name.$c]+="$rss "
            main_end=$(sed -n 's/^main_end //p' <<< "$out")
            [ -n "$main_end" ] && EXIT[$name.$c]+="$(awk -v a="$end" -v b="$main_end" 'BEGIN {printf "%.4f", a - b}') "
        done
    done
done

json="{\"runs\": $RUNS, \"benchmarks\": {"
printf '%-16s %-10s %9s %9s %9s %9s %10s %9s\n' benchmark config "wall s" "x native" "min x nat" "x heaptr" "peak MiB" "x native"
first=1
for bench in "${BENCHES[@]}"; do
    name=${bench%%|*}
    nat_w=$(tr ' ' '\n' <<< "${WALL[$name.native]}" | median)
    nat_min=$(tr ' ' '\n' <<< "${WALL[$name.native]}" | minimum)
    nat_r=$(tr ' ' '\n' <<< "${RSS[$name.native]}" | median)
    ht_w=nan
    [ -n "$HEAPTRACK" ] && ht_w=$(tr ' ' '\n' <<< "${WALL[$name.heaptrack]:-}" | median)
    [ $first = 1 ] || json+=","
    first=0
    json+="\"$name\": {"
    cfirst=1
    for c in "${CONFIGS[@]}"; do
        skip "$c" "$name" && continue
        w=$(tr ' ' '\n' <<< "${WALL[$name.$c]}" | median)
        wmin=$(tr ' ' '\n' <<< "${WALL[$name.$c]}" | minimum)
        xmin=$(awk -v a="$wmin" -v b="$nat_min" 'BEGIN {printf "%.2f", a / b}')
        r=$(tr ' ' '\n' <<< "${RSS[$name.$c]}" | median)
        xw=$(awk -v a="$w" -v b="$nat_w" 'BEGIN {printf "%.2f", a / b}')
        xh=$(awk -v a="$w" -v b="$ht_w" 'BEGIN {if (b == "nan") print "-"; else printf "%.2f", a / b}')
        xr=$(awk -v a="$r" -v b="$nat_r" 'BEGIN {printf "%.2f", a / b}')
        ex=$(tr ' ' '\n' <<< "${EXIT[$name.$c]:-}" | median)
        printf '%-16s %-10s %9.3f %9s %9s %9s %10.1f %9s%s\n' "$name" "$c" "$w" "$xw" "$xmin" "$xh" "$(awk -v r="$r" 'BEGIN {print r / 1024}')" "$xr" \
            "$( [ "$ex" != nan ] && echo "   exit $ex s")"
        [ $cfirst = 1 ] || json+=","
        cfirst=0
        json+="\"$c\": {\"wall_s\": $w, \"wall_min_s\": $wmin, \"wall_min_x_native\": $xmin, \"peak_rss_kib\": $r, \"wall_x_native\": $xw, \"rss_x_native\": $xr$( [ "$xh" != - ] && echo ", \"wall_x_heaptrack\": $xh")$( [ "$ex" != nan ] && echo ", \"exit_s\": $ex")}"
    done
    json+="}"
done
json+="}"

# memory per live block (while running, and at the exit with the scan's arrays), snapshot size,
# and the analyzer on that snapshot
per_block_of() {
    local nat full
    nat=$(tr ' ' '\n' <<< "${RSS[$1.native]}" | median)
    full=$(tr ' ' '\n' <<< "${RSS[$1.full]}" | median)
    awk -v a="$full" -v b="$nat" -v n=$LIVE_BLOCKS 'BEGIN {printf "%.1f", (a - b) * 1024 / n}'
}
per_block=$(per_block_of live_heavy)
per_block_exit=$(per_block_of live_exit)
rm -rf "$OUT/snap" && mkdir -p "$OUT/snap"
IMGLEAK_OUT=$OUT/snap LD_PRELOAD=$SHIM "$OUT/live_heavy" $LIVE_BLOCKS keep >/dev/null
snap=$(find "$OUT/snap" -name "imgleak.*.snap" | head -n1)
snap_bytes=$(stat -c %s "$snap")
snap_per_block=$(awk -v a="$snap_bytes" -v n=$LIVE_BLOCKS 'BEGIN {printf "%.1f", a / n}')
read -r rep_wall rep_rss _ <<< "$("$MEASURE" "$B/imgleak" report --format json -o "$OUT/tmp/report.json" "$snap" | tail -n1)"
echo
echo "live_heavy: shim memory per live block: $per_block bytes (peak RSS under imgleak minus native, / $LIVE_BLOCKS)"
echo "live_exit: shim memory per live block with the exit scan's arrays: $per_block_exit bytes"
echo "live_heavy: snapshot $snap_bytes bytes for $LIVE_BLOCKS live blocks: $snap_per_block bytes per block, stacks included"
echo "imgleak report on it: $rep_wall s, peak $(awk -v r="$rep_rss" 'BEGIN {printf "%.1f", r / 1024}') MiB"
json+=", \"live_heavy_shim_bytes_per_block\": $per_block, \"live_exit_shim_bytes_per_block\": $per_block_exit, \"snapshot_bytes\": $snap_bytes, \"snapshot_bytes_per_block\": $snap_per_block"
json+=", \"report_wall_s\": $rep_wall, \"report_peak_rss_kib\": $rep_rss}"
echo "$json" > "$OUT/results.json"
echo "results: $OUT/results.json"
[ -n "$HEAPTRACK" ] || echo "heaptrack is not installed: apt-get install heaptrack for the comparison"
[ -x "$OUT/lsan/malloc_churn" ] || echo "the compiler has no -fsanitize=leak: no LeakSanitizer comparison"
