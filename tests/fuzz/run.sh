#!/usr/bin/env bash
# Fuzzing the snapshot reader (libFuzzer): seeds are real snapshots of the test programs (plain,
# scanned with indirect records, with codec handles, sampled); every file in regressions/ (inputs
# that once crashed it) is replayed first; then the fuzzer runs for FUZZ_SECONDS.
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
regressions=(tests/fuzz/regressions/*)
if [ -e "${regressions[0]}" ]; then
    "$FUZZ" "${regressions[@]}" > "$B/fuzz/regressions.log" 2>&1 ||
        { tail -30 "$B/fuzz/regressions.log"; echo "fuzz: a regression input fails again"; exit 1; }
    echo "fuzz: ${#regressions[@]} regression inputs pass"
fi
# -malloc_limit_mb: no input may make the reader allocate more than its size justifies
"$FUZZ" -max_total_time="$SECONDS_TO_RUN" -max_len=65536 -malloc_limit_mb=256 -rss_limit_mb=1024 \
    -timeout=10 -print_final_stats=1 -artifact_prefix="$B/fuzz/" "$CORPUS" "$SEEDS" \
    > "$B/fuzz/fuzz.log" 2>&1
rc=$?
runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$B/fuzz/fuzz.log" | grep -o '[0-9]*$')
if [ $rc != 0 ]; then
    grep -A30 "ERROR\|==ERROR\|deadly signal\|out-of-memory\|malloc(" "$B/fuzz/fuzz.log" | head -40
    echo "fuzz: FAILED after ${runs:-?} runs; the input is in $B/fuzz/ (crash-*, oom-*, timeout-*):"
    echo "      copy it to tests/fuzz/regressions/ with the fix"
    exit 1
fi
echo "fuzz: ${runs:-?} runs in $SECONDS_TO_RUN s, no crash, hang or oversized allocation"
