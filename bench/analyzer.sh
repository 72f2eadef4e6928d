#!/usr/bin/env bash
# make bench (and make bench-analyzer): the analyzer on large and adversarial snapshots written by
# bench/gensnap, at the sizes where anything quadratic in sites, stacks, frames, modules or
# handles shows: 40k handle names and 40k handles; 20k modules and 131k frames; a 50 MB snapshot
# (text and JSON); growth over 60k sites x 100 snapshots; gate --baseline and diff with 40k sites.
# Prints wall time, CPU time (user + system) and peak RSS of each; results also go to
# $B/bench/analyzer.json. IMGLEAK=path measures another build of imgleak on the same files.
set -u
B=${B:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
OUT=$B/bench/analyzer
GEN=$B/bench/gensnap
IMGLEAK=${IMGLEAK:-$B/imgleak}
# the frames point into this ELF's code, symbolized from its DWARF as a program's would be: a copy
# of imgleak made with the files, so that they stay consistent when imgleak is rebuilt
ELF=$OUT/frames.elf
SERIES_SITES=${SERIES_SITES:-60000}
SERIES_SNAPS=${SERIES_SNAPS:-100}
mkdir -p "$OUT"
[ -e "$ELF" ] || cp "$B/imgleak" "$ELF"

# the files are made once per size and kept (the series is ~850 MB); make clean removes them
gen() { # gen FILE ARGS...: FILE unless it exists
    local file=$1; shift
    [ -e "$file" ] || "$GEN" "$@" || { echo "bench: gensnap $* failed" >&2; exit 1; }
}
gen "$OUT/handles.snap" handles 40000 "$ELF" "$OUT/handles.snap"
gen "$OUT/modules.snap" modules 20000 131072 "$ELF" "$OUT/modules.snap"
gen "$OUT/big.snap" big 50 "$ELF" "$OUT/big.snap"
gen "$OUT/base.snap" sites 40000 0 "$ELF" "$OUT/base.snap"
gen "$OUT/new.snap" sites 40000 1 "$ELF" "$OUT/new.snap"
series=$OUT/series-$SERIES_SITES-$SERIES_SNAPS
if [ ! -e "$series/done" ]; then
    rm -rf "$series" && mkdir -p "$series"
    gen "$series/done" series "$SERIES_SITES" "$SERIES_SNAPS" "$ELF" "$series" && touch "$series/done"
fi
"$IMGLEAK" report --format json -o "$OUT/base.json" "$OUT/base.snap" 2>/dev/null ||
    { echo "bench: the baseline report failed" >&2; exit 1; }

CASES=(
    "handles_40k|report -o /dev/null $OUT/handles.snap"
    "modules_20k_frames_131k|report -o /dev/null $OUT/modules.snap"
    "snapshot_50MB_text|report -o /dev/null $OUT/big.snap"
    "snapshot_50MB_json|report --format json -o /dev/null $OUT/big.snap"
    "growth_${SERIES_SITES}_sites_x_${SERIES_SNAPS}|growth -o /dev/null $series/*.snap"
    "gate_baseline_40k|gate --baseline $OUT/base.json $OUT/new.snap"
    "diff_40k|diff -o /dev/null $OUT/base.json $OUT/new.snap"
)

printf '%-32s %9s %9s %10s\n' case "wall s" "cpu s" "peak MiB"
json="{\"imgleak\": \"$IMGLEAK\", \"cases\": {"
first=1
for c in "${CASES[@]}"; do
    name=${c%%|*}; args=${c#*|}
    # shellcheck disable=SC2086
    res=$(/usr/bin/time -f '%e %U %S %M' "$IMGLEAK" $args 2>&1 >/dev/null | tail -n1)
    read -r wall user sys kib <<< "$res"
    case $wall in [0-9]*) ;; *) echo "bench: $name failed: $res" >&2; exit 1 ;; esac
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN {printf "%.2f", u + s}')
    printf '%-32s %9.2f %9.2f %10.1f\n' "$name" "$wall" "$cpu" "$(awk -v k="$kib" 'BEGIN {print k / 1024}')"
    [ $first = 1 ] || json+=","
    first=0
    json+="\"$name\": {\"wall_s\": $wall, \"cpu_s\": $cpu, \"peak_rss_kib\": $kib}"
done
echo "$json}}" > "$B/bench/analyzer.json"
echo "results: $B/bench/analyzer.json"
