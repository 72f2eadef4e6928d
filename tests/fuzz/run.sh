#!/usr/bin/env bash
# Fuzzing (libFuzzer) the snapshot reader (fuzz_reader) and every command on snapshots and JSON
# reports (fuzz_commands: report in each format, gate, gate --baseline, diff, growth). Seeds are
# real snapshots of the test programs (plain, scanned with indirect records, with codec handles,
# sampled), imgleak's JSON reports of them, and crafted series; every file in regressions/ (inputs
# that once crashed the reader) and regressions-commands/ is replayed first; then each fuzzer runs
# for half of FUZZ_SECONDS.
#   run.sh FUZZ_SECONDS
set -u
B=${B:-build}
SECONDS_TO_RUN=${1:-30}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
FUZZ=$B/fuzz/fuzz_reader
SEEDS=$B/fuzz/seeds
CORPUS=$B/fuzz/corpus
mkdir -p "$SEEDS" "$CORPUS"
if [ -z "$(ls "$SEEDS")" ]; then
    SHIM=$(realpath "$B/libimgleak.so")
    ( cd "$SEEDS" && LD_PRELOAD=$SHIM "$ROOT/$B/tests/leaky" leak > /dev/null &&
      LD_PRELOAD=$SHIM "$ROOT/$B/tests/reach" > /dev/null &&
      LD_PRELOAD=$SHIM "$ROOT/$B/tests/jpeg_misuse" > /dev/null 2>&1;
      LD_PRELOAD=$SHIM IMGLEAK_SAMPLE=4096 "$ROOT/$B/tests/leaky" leak > /dev/null ) ||
        { echo "fuzz: could not make the seed snapshots"; exit 1; }
fi
# fuzz_commands' inputs: a byte choosing the command (fuzz_commands.c), then one file, or two
# joined by the split line
CMD_SEEDS=$B/fuzz/cmd_seeds
CMD_CORPUS=$B/fuzz/cmd_corpus
SPLIT=$'\n--imgleak-fuzz-split--\n'
mkdir -p "$CMD_SEEDS" "$CMD_CORPUS"
seed() { # seed NAME BYTE FILE [FILE2]
    { printf "\\x$2"; cat "$3"; [ -n "${4:-}" ] && { printf '%s' "$SPLIT"; cat "$4"; }; } > "$CMD_SEEDS/$1"
}
if [ -z "$(ls "$CMD_SEEDS")" ]; then
    for snap in "$SEEDS"/*.snap; do
        n=$(basename "$snap" .snap)
        "$B/imgleak" report --format json -o "$CMD_SEEDS/$n.json" "$snap" 2> /dev/null
        for k in 00 01 02 03 04 05 15; do seed "$n-$k" $k "$snap"; done
        seed "$n-json-gate" 05 "$CMD_SEEDS/$n.json"
        seed "$n-json-baseline" 06 "$CMD_SEEDS/$n.json" "$snap"
        seed "$n-json-diff" 07 "$CMD_SEEDS/$n.json" "$snap"
        seed "$n-diff-json" 08 "$snap" "$CMD_SEEDS/$n.json"
        rm -f "$CMD_SEEDS/$n.json"
    done
    python3 tests/integration/craft.py strings "$B/fuzz/s0.snap" 0
    python3 tests/integration/craft.py strings "$B/fuzz/s1.snap" 1
    python3 tests/integration/craft.py huge "$B/fuzz/huge.snap"
    seed series-growth 09 "$B/fuzz/s0.snap" "$B/fuzz/s1.snap"
    seed series-growth-json 19 "$B/fuzz/s0.snap" "$B/fuzz/s1.snap"
    seed series-report 00 "$B/fuzz/s0.snap" "$B/fuzz/s1.snap"
    seed huge-gate 05 "$B/fuzz/huge.snap"
    seed huge-diff 07 "$B/fuzz/s0.snap" "$B/fuzz/huge.snap"
fi
regressions=(tests/fuzz/regressions/*)
if [ -e "${regressions[0]}" ]; then
    "$FUZZ" "${regressions[@]}" > "$B/fuzz/regressions.log" 2>&1 ||
        { tail -30 "$B/fuzz/regressions.log"; echo "fuzz: a regression input fails again"; exit 1; }
    echo "fuzz: ${#regressions[@]} regression inputs pass"
fi
cmd_regressions=(tests/fuzz/regressions-commands/*)
if [ -e "${cmd_regressions[0]}" ]; then
    "$B/fuzz/fuzz_commands" "${cmd_regressions[@]}" > "$B/fuzz/regressions-commands.log" 2>&1 ||
        { tail -30 "$B/fuzz/regressions-commands.log"; echo "fuzz: a regression input fails again"; exit 1; }
    echo "fuzz: ${#cmd_regressions[@]} command regression inputs pass"
fi
# run_fuzzer NAME SECONDS CORPUS SEEDS [FLAGS]: -malloc_limit_mb: no input may make the analyzer
# allocate more than its size justifies
run_fuzzer() {
    local name=$1 secs=$2 corpus=$3 seeds=$4; shift 4
    "$B/fuzz/$name" -max_total_time="$secs" -max_len=65536 -malloc_limit_mb=256 -rss_limit_mb=1024 \
        -timeout=10 -print_final_stats=1 -artifact_prefix="$B/fuzz/$name-" "$@" "$corpus" "$seeds" \
        > "$B/fuzz/$name.log" 2>&1
    local rc=$?
    local runs
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$B/fuzz/$name.log" | grep -o '[0-9]*$')
    if [ $rc != 0 ]; then
        grep -A30 "ERROR\|==ERROR\|deadly signal\|out-of-memory\|malloc(" "$B/fuzz/$name.log" | head -40
        echo "fuzz: $name FAILED after ${runs:-?} runs; the input is in $B/fuzz/ ($name-crash-*, -oom-*, -timeout-*):"
        echo "      copy it to tests/fuzz/regressions/ (reader) or regressions-commands/ with the fix"
        return 1
    fi
    echo "fuzz: $name: ${runs:-?} runs in $secs s, no crash, hang or oversized allocation"
}
half=$(( (SECONDS_TO_RUN + 1) / 2 ))
run_fuzzer fuzz_reader "$half" "$CORPUS" "$SEEDS" || exit 1
# stdout closed: gate's verdicts; warnings stay on stderr with any sanitizer report
run_fuzzer fuzz_commands "$half" "$CMD_CORPUS" "$CMD_SEEDS" -close_fd_mask=1 || exit 1
