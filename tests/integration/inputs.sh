#!/usr/bin/env bash
# Which input leaked (format 1.6): the inputs workload decodes a generated corpus of 24 JPEGs,
# PNGs and GIFs of which three are corrupt and leak on their decoder's error path. The report must
# name exactly those three, by file (the names imgleak finds from the codec calls), by memory buffer
# (the program's imgleak_set_tag) and on four threads at once, in JSON, text, --by-input, HTML and
# the gate; the clean variant passes the gate. Descriptors are handles: tests/integration/fds.c.
# Prints "inputs: N passed, M failed".
set -u
B=${B:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
IMGLEAK=${IMGLEAK:-$B/imgleak}
WL=$B/workloads/wl_inputs
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
. tests/integration/lib.sh

CORRUPT='["anim_07.gif","icon_03.png","photo_05.jpg"]'
# the inputs a report names, by file name, sorted and unique
names() { jq -c "[$1 | split(\"/\") | last] | unique" "$2"; }

for mode in leak memory threads; do
    "$IMGLEAK" run --format json --report "$WORK/$mode.json" -- "$WL" "$mode" > "$WORK/$mode.out" 2>&1
    check "$mode: the run succeeds and decodes 24 inputs, 3 failing" grep -q "^24 inputs, 3 failed" "$WORK/$mode.out"
    check "$mode: 24 inputs seen" jqe '.totals.inputs_seen == 24 and .totals.inputs_known' "$WORK/$mode.json"
    check "$mode: inputs[] names exactly the corrupt ones" \
        test "$(names '.inputs[].name' "$WORK/$mode.json")" = "$CORRUPT"
    check "$mode: every program entry leaked on exactly one input, a corrupt one" \
        jqe --argjson c "$CORRUPT" '[.leaks[] | select(.in_app)] | length >= 3 and
            all(.inputs | length == 1 and ((.[0].name | split("/") | last) as $n | $c | index($n)))' \
        "$WORK/$mode.json"
    check "$mode: each decoder's leak is charged to its own format's input" \
        jqe '[.leaks[] | select(.in_app) | [.site.function, (.inputs[0].name | split(".") | last)]]
             | all(. == ["load_jpeg","jpg"] or . == ["load_png","png"] or . == ["load_gif","gif"])' \
        "$WORK/$mode.json"
    check "$mode: handle groups name their input too" \
        jqe '[.handles[] | select(.in_app)] | length >= 3 and all(.inputs | length == 1 and .[0].count >= 1)' \
        "$WORK/$mode.json"
done
check "memory: names are the program's tags (file names), not digests" \
    jqe '[.inputs[].name] | all(test("^[a-z]+_[0-9]+[.][a-z]+$"))' "$WORK/memory.json"
check "leak: inputs found from the codec calls are the files' paths" \
    jqe '[.inputs[].name] | all(test("corpus/[a-z]+_[0-9]+[.][a-z]+$"))' "$WORK/leak.json"

# descriptors and streams: the FILE load_jpeg forgets to fclose, giflib's own stream
check "leak: the FILE load_jpeg never closes is a handle, charged to photo_05.jpg" \
    jqe '[.handles[] | select(.type == "FILE" and .site.function == "load_jpeg")] |
         length == 1 and .[0].count == 1 and (.[0].inputs[0].name | endswith("photo_05.jpg"))' "$WORK/leak.json"
check "leak: the stream giflib opened and never closed is a handle of load_gif" \
    jqe '[.handles[] | select(.type == "FILE" and .site.function == "load_gif")] | length == 1' "$WORK/leak.json"

# text: under each entry, and --by-input
SNAPS=$WORK/snaps
"$IMGLEAK" run -o "$SNAPS" --report "$WORK/leak.txt" -- "$WL" memory > /dev/null 2>&1
check "text: 'leaked on 1 of 24 inputs: photo_05.jpg' under the JPEG entry" \
    grep -q "leaked on 1 of 24 inputs: photo_05.jpg" "$WORK/leak.txt"
"$IMGLEAK" report --by-input "$SNAPS"/*.snap > "$WORK/by.txt" 2>&1
check "report --by-input: 3 of 24 inputs, each with the line it leaked at" bash -c '
    grep -q "^inputs: 3 of 24 leaked" "$1" && grep -A3 "^  icon_03.png:" "$1" | grep -q "at load_png .*wl_inputs.c:"' _ "$WORK/by.txt"
"$IMGLEAK" report --format html -o "$WORK/r.html" "$SNAPS"/*.snap 2> /dev/null
if command -v chromium > /dev/null; then
    { sed '/<\/body>/,$d' "$WORK/r.html"; echo '<script>'; cat tests/integration/html_views_probe.js
      echo '</script></body></html>'; } > "$WORK/r.probe.html"
    timeout 120 chromium --headless --no-sandbox --disable-gpu --window-size=1200,900 \
        --virtual-time-budget=5000 --dump-dom "file://$WORK/r.probe.html" > "$WORK/dom.html" 2> /dev/null
    check "html: Chromium shows the inputs table: 3 of 24 inputs, each with where it leaked" \
        grep -q "PROBE inputs ok" "$WORK/dom.html"
else
    bad "html: the inputs table in Chromium" "chromium is not installed (scripts/deps.sh --tests)"
fi

# the analyzer's paths through inputs under AddressSanitizer/UBSan
ASAN=$B/asan/imgleak
if [ -x "$ASAN" ]; then
    for f in text json html; do
        "$ASAN" report --by-input --format $f -o "$WORK/asan.$f" "$SNAPS"/*.snap 2> "$WORK/asan.err"
        check "asan: report --by-input --format $f on inputs" \
            bash -c 'test $2 = 0 && ! grep -qE "AddressSanitizer|runtime error|LeakSanitizer" "$1"' _ "$WORK/asan.err" $?
    done
    "$ASAN" gate --annotations github --junit "$WORK/asan.xml" "$SNAPS"/*.snap > /dev/null 2> "$WORK/asan.err"
    check "asan: gate with annotations and JUnit on inputs" \
        bash -c 'test $2 = 1 && ! grep -qE "AddressSanitizer|runtime error|LeakSanitizer" "$1"' _ "$WORK/asan.err" $?
    check "junit: each leak's case names the input it leaked on" \
        bash -c 'grep -q "name=\"load_jpeg ([^\"]*wl_inputs.c:[0-9]*) on photo_05.jpg\"" "$1" &&
                 grep -q "name=\"load_gif ([^\"]*wl_inputs.c:[0-9]*) on anim_07.gif\"" "$1"' _ "$WORK/asan.xml"
fi

# the gate names the inputs; the clean variant passes it
"$IMGLEAK" gate --annotations github "$SNAPS"/*.snap > "$WORK/gate.out" 2>&1
check "gate: fails, its annotation names the input" \
    bash -c 'test $2 != 0 && grep -q "^::error .*load_jpeg.*on 1 input: photo_05.jpg" "$1"' _ "$WORK/gate.out" $?
"$IMGLEAK" run --gate --annotations github -- "$WL" leak > "$WORK/gate-file.out" 2>&1
check "gate: the GIF decoder and the FILE it opened, one bug at one line, are one gate line" \
    bash -c 'test "$(grep -c "^::error file=.*wl_inputs.c,line=$2," "$1")" = 1 &&
             grep -q "GifFileType (decoder) handle and 1 FILE handle never destroyed" "$1"' \
    _ "$WORK/gate-file.out" "$(grep -n "DGifOpenFileName(path" workloads/wl_inputs.c | cut -d: -f1)"
"$IMGLEAK" run --gate -- "$WL" clean > "$WORK/clean.out" 2>&1
check "clean: passes the gate" test $? = 0
"$IMGLEAK" run --format json --report "$WORK/clean.json" -- "$WL" clean > /dev/null 2>&1
check "clean: no input leaked, none of 24 charged anything" \
    jqe '.totals.inputs_seen == 24 and (.inputs | length == 0) and (.handles | length == 0)' "$WORK/clean.json"

# a service naming every request stays within IMGLEAK_MAX_INPUTS: the rest are counted, not
# told apart, and that is no lost data (their memory is all there)
IMGLEAK_MAX_INPUTS=10 "$IMGLEAK" run --format json --report "$WORK/cap.json" -- "$WL" memory > /dev/null 2>&1
check "IMGLEAK_MAX_INPUTS=10: 10 inputs named, the 14 others (and the JPEG buffers among them) counted apart; nothing dropped, every leak still listed" \
    jqe '.totals.inputs_seen == 10 and .totals.inputs_unnamed >= 14 and (.totals.dropped.any | not)
         and ([.leaks[] | select(.in_app)] | length >= 4)' "$WORK/cap.json"

# descriptors (fds.c): leaks by the line that opened them; what was closed, inherited or copied
# into a forked child is not
for mode in leak clean; do
    exec 7< /dev/null # inherited at start: never the program's leak
    "$IMGLEAK" run --format json --report "$WORK/fds.$mode.json" -- "$B/tests/fds" "$mode" > /dev/null 2>&1
    exec 7<&-
done
check "fds leak: exactly the open() and the socket() never closed, at their lines" \
    jqe --argjson a "$(grep -n 'fd leak: open' tests/integration/fds.c | cut -d: -f1)" \
        --argjson b "$(grep -n 'fd leak: socket' tests/integration/fds.c | cut -d: -f1)" \
        '[.handles[] | select(.type == "fd") | [.function, .site.line, .count]] | sort == ([["open",$a,1],["socket",$b,1]] | sort)' \
        "$WORK/fds.leak.json"
check "fds leak: the forked child wrote its own report (and added no descriptor: counts above are 1)" \
    jqe '.snapshots | length == 2' "$WORK/fds.leak.json"
check "fds clean: no descriptor or stream leaked" \
    jqe '[.handles[] | select(.type == "fd" or .type == "FILE")] | length == 0' "$WORK/fds.clean.json"

finish inputs
