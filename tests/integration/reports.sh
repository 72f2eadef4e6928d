#!/usr/bin/env bash
# The CI side and the output formats: gate exit codes, baselines that tolerate a line shift but
# catch growth, suppressions that hide exactly what they name, diff, JUnit, pprof read by go tool
# pprof, collapsed stacks that add up, and the HTML report in headless Chromium. Prints
# "N passed, M failed". make check runs it twice: with the plain build, and with IMGLEAK set to
# the ASan/UBSan build (snapshots are made by the plain one either way: its shim is beside it).
set -u
B=${B:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
IMGLEAK=${IMGLEAK:-$B/imgleak}
RUNNER=$B/imgleak
SRC=tests/integration
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
. "$ROOT/tests/integration/lib.sh"
status_is() { # status_is WANT COMMAND...: the command exits with WANT
    local want=$1; shift
    "$@" > "$WORK/out" 2> "$WORK/err"
    local got=$?
    [ "$got" = "$want" ] || { echo "     exit $got, expected $want: $(head -c 300 "$WORK/err")"; return 1; }
    ! grep -qE "AddressSanitizer|runtime error|LeakSanitizer" "$WORK/err" || { head -5 "$WORK/err"; return 1; }
}
line_of() { grep -nF "/* $2 */" "$1" | head -n1 | cut -d: -f1; }
report() { # report NAME PROGRAM ARGS...: snapshots in $WORK/NAME, JSON report in $WORK/NAME.json
    local name=$1; shift
    $RUNNER run -o "$WORK/$name" --format json --report "$WORK/$name.json" -- "$@" > /dev/null 2>&1
}
differ() { ! cmp -s "$1" "$2"; }

# ------------------------------------------------ programs: leaky, leaky with lines shifted, leaky leaking more
# (the variants are leaky.c in other directories, as in another checkout of the same project)
mkdir -p "$WORK/bin/s" "$WORK/bin/g"
cc -O0 -g -o "$WORK/bin/leaky" $SRC/leaky.c
{ printf '/* shifted */\n/* by */\n/* five */\n/* more */\n/* lines */\n'; cat $SRC/leaky.c; } > "$WORK/bin/s/leaky.c"
sed 's/i < 3; i++) {$/i < 4; i++) {/' $SRC/leaky.c > "$WORK/bin/g/leaky.c"
check "the grown variant really changes load_config" differ $SRC/leaky.c "$WORK/bin/g/leaky.c"
cc -O0 -g -o "$WORK/bin/shifted" "$WORK/bin/s/leaky.c"
cc -O0 -g -o "$WORK/bin/grown" "$WORK/bin/g/leaky.c"
report base "$WORK/bin/leaky" leak
report shifted "$WORK/bin/shifted" leak
report grown "$WORK/bin/grown" leak
report clean "$WORK/bin/leaky" clean
check "shifted variant: the leak lines did move" \
    test "$(jq '[.leaks[] | select(.site.function == "load_config")][0].site.line' "$WORK/shifted.json")" \
       = $(( $(line_of $SRC/leaky.c 'LEAK(direct)') + 5 ))

# ------------------------------------------------ gate: exit codes
check "gate: a leaking report fails (exit 1)" status_is 1 $IMGLEAK gate "$WORK/base.json"
check "gate: offenders printed as file:line: N bytes in M blocks leaked (function)" \
    grep -qx "$SRC/leaky.c:$(line_of $SRC/leaky.c 'LEAK(direct)'): 3000 bytes in 3 blocks leaked (load_config)" "$WORK/out"
check "gate: snapshots as input give the same verdict" status_is 1 $IMGLEAK gate "$WORK"/base/*.snap
check "gate: within --max-leaked-bytes passes (exit 0)" \
    status_is 0 $IMGLEAK gate --max-leaked-bytes 134312 "$WORK/base.json"
check "gate: one byte under the total fails" \
    status_is 1 $IMGLEAK gate --max-leaked-bytes 134311 "$WORK/base.json"
check "gate: a clean program passes" status_is 0 $IMGLEAK gate "$WORK/clean.json"
check "gate: a missing file is bad input (exit 2)" status_is 2 $IMGLEAK gate "$WORK/none.json"
echo '{"imgleak_report": 1, "leaks": 7}' > "$WORK/broken.json"
check "gate: a malformed report is bad input (exit 2)" status_is 2 $IMGLEAK gate "$WORK/broken.json"
check "gate: ... with one line saying why" test "$(wc -l < "$WORK/err")" = 1
printf 'not a snapshot' > "$WORK/garbage.snap"
check "gate: a garbage snapshot is bad input (exit 2)" status_is 2 $IMGLEAK gate "$WORK/garbage.snap"
check "gate: a bad option is bad input (exit 2)" status_is 2 $IMGLEAK gate --max-leaked-bytes lots "$WORK/base.json"

report magick $B/workloads/wl_magick leak
check "gate: handles over the limit fail even when bytes are allowed" \
    status_is 1 $IMGLEAK gate --max-leaked-bytes 1000000000 "$WORK/magick.json"
check "gate: ... naming the handles" grep -q "MagickWand handles never destroyed (coalesce_frames, created by NewMagickWand)" "$WORK/out"
check "gate: handles within --max-leaked-handles pass" \
    status_is 0 $IMGLEAK gate --max-leaked-bytes 1000000000 --max-leaked-handles 120 "$WORK/magick.json"

check "run --gate: a clean program exits 0" status_is 0 $RUNNER run --gate -- "$WORK/bin/leaky" clean
check "run --gate: a leaking program exits 1" status_is 1 $RUNNER run --gate -- "$WORK/bin/leaky" leak
check "run --gate: the offenders are on stderr" grep -q "leaked (map_tiles)" "$WORK/err"

# ------------------------------------------------ baselines
check "baseline: the same leak with its lines shifted passes" \
    status_is 0 $IMGLEAK gate --baseline "$WORK/base.json" "$WORK/shifted.json"
check "baseline: growth at one site fails" \
    status_is 1 $IMGLEAK gate --baseline "$WORK/base.json" "$WORK/grown.json"
check "baseline: ... charged to that site, by the growth only" \
    grep -q "leaky.c:$(line_of $SRC/leaky.c 'LEAK(direct)'): 1000 bytes in 1 blocks leaked (load_config), beyond the baseline's 3000" "$WORK/out"
check "baseline: ... and nothing else" test "$(grep -c ': .* leaked (' "$WORK/out")" = 1
check "baseline: growth within --max-leaked-bytes passes" \
    status_is 0 $IMGLEAK gate --baseline "$WORK/base.json" --max-leaked-bytes 1000 "$WORK/grown.json"

# ------------------------------------------------ JUnit
$IMGLEAK gate --junit "$WORK/junit.xml" "$WORK/base.json" > /dev/null
check "junit: well-formed XML" xmllint --noout "$WORK/junit.xml"
check "junit: the bytes limit and the three sites fail" \
    test "$(xmllint --xpath 'string(//testsuite/@failures)' "$WORK/junit.xml")" = 4
$IMGLEAK gate --junit "$WORK/junit-ok.xml" "$WORK/clean.json" > /dev/null
check "junit: a clean run has no failure" \
    test "$(xmllint --xpath 'string(//testsuite/@failures)' "$WORK/junit-ok.xml")" = 0

# ------------------------------------------------ diff
$IMGLEAK diff --format json -o "$WORK/diff.json" "$WORK/clean.json" "$WORK/base.json"
check "diff: clean -> leak: three new sites" \
    test "$(jq -c '[.sites[] | select(.in_app) | .change] | sort' "$WORK/diff.json")" = '["new","new","new"]'
$IMGLEAK diff --format json -o "$WORK/diff2.json" "$WORK/base.json" "$WORK/grown.json"
check "diff: base -> grown: load_config grown by 1000 bytes and 1 block" \
    jqe '[.sites[] | select(.function == "load_config")] == [.sites[] | select(.change == "grown")]
         and ([.sites[] | select(.change == "grown")][0] | .bytes_delta == 1000 and .blocks_delta == 1)' \
    "$WORK/diff2.json"
$IMGLEAK diff --format json -o "$WORK/diff3.json" "$WORK/base.json" "$WORK"/clean/*.snap
check "diff: leak -> clean (a snapshot as NEW): three gone" \
    test "$(jq '[.sites[] | select(.in_app and .change == "gone")] | length' "$WORK/diff3.json")" = 3
$IMGLEAK diff "$WORK/base.json" "$WORK/shifted.json" > "$WORK/diff4.txt"
check "diff: a line shift is no change" grep -q "0 sites and 0 handle groups changed" "$WORK/diff4.txt"

# ------------------------------------------------ suppressions
printf '# helper allocations are fine\nleak:make_buffer\n' > "$WORK/one.supp"
$IMGLEAK report --format json --suppressions "$WORK/one.supp" -o "$WORK/supp.json" "$WORK"/base/*.snap
check "suppressions: the named function's site is gone" \
    test "$(jq '[.leaks[] | select(.site.function == "make_buffer")] | length' "$WORK/supp.json")" = 0
check "suppressions: the other sites are untouched" \
    test "$(jq -c '[.leaks[] | select(.in_app) | [.site.function, .bytes]] | sort' "$WORK/supp.json")" \
       = '[["load_config",3000],["map_tiles",131072]]'
check "suppressions: what was hidden is counted, by rule" \
    jqe '.totals.suppressed_bytes - ([.suppressed[] | select(.from != "default") | .bytes] | add) ==
         ([.suppressed[] | select(.from == "default") | .bytes] | add // 0)
         and ([.suppressed[] | select(.pattern == "make_buffer")][0] | .bytes == 240 and .blocks == 5)' \
    "$WORK/supp.json"
printf 'leak:build_names\n' > "$WORK/caller.supp"
$IMGLEAK report --format json --suppressions "$WORK/caller.supp" -o "$WORK/supp2.json" "$WORK"/base/*.snap
check "suppressions: a caller's name hides what it called (any frame matches)" \
    test "$(jq '[.leaks[] | select(.site.function == "make_buffer")] | length' "$WORK/supp2.json")" = 0
printf 'leak:^load_conf$\nleak:no_such_function\n' > "$WORK/miss.supp"
$IMGLEAK report --format json --suppressions "$WORK/miss.supp" -o "$WORK/supp3.json" "$WORK"/base/*.snap
check "suppressions: anchored and absent patterns hide nothing" \
    test "$(jq '[.leaks[] | select(.in_app)] | length' "$WORK/supp3.json")" = 3
printf 'leak:^load_*g$\n' > "$WORK/glob.supp"
$IMGLEAK report --format json --suppressions "$WORK/glob.supp" -o "$WORK/supp4.json" "$WORK"/base/*.snap
check "suppressions: '*' wildcards within anchors" \
    test "$(jq '[.leaks[] | select(.site.function == "load_config")] | length' "$WORK/supp4.json")" = 0
check "suppressions: gate with them passes once all three are named" \
    status_is 0 $IMGLEAK gate --suppressions "$WORK/one.supp" --suppressions "$WORK/glob.supp" \
        --max-leaked-bytes 131072 "$WORK"/base/*.snap
printf 'leak:ok\nfun:wrong\n' > "$WORK/bad.supp"
check "suppressions: a bad line is bad input, naming file and line" \
    status_is 2 $IMGLEAK report --suppressions "$WORK/bad.supp" "$WORK"/base/*.snap
check "suppressions: ... (message)" grep -q "bad.supp:2: expected leak:PATTERN" "$WORK/err"
$IMGLEAK report --format json -o "$WORK/magick-nodef.json" --no-default-suppressions "$WORK"/magick/*.snap
check "default suppressions: hide ImageMagick's one-time registries, and only when on" \
    jqe --slurpfile with "$WORK/magick.json" '.totals.suppressed_bytes == 0 and
         $with[0].totals.suppressed_bytes > 0 and
         ([.totals.by_class[].bytes] | add) ==
           ([$with[0].totals.by_class[].bytes] | add) + $with[0].totals.suppressed_bytes' \
    "$WORK/magick-nodef.json"

# ------------------------------------------------ collapsed stacks
for name in base magick; do
    $IMGLEAK report --format collapsed -o "$WORK/$name.folded" "$WORK/$name"/*.snap
    check "collapsed ($name): the lines add up to the report's leaked bytes" \
        test "$(awk '{ s += $NF } END { print s }' "$WORK/$name.folded")" = "$(jq .totals.leaked_bytes "$WORK/$name.json")"
done
check "collapsed: frames outermost first, the leak site last" \
    grep -q "^main;build_names;make_buffer 240$" "$WORK/base.folded"

# ------------------------------------------------ pprof, read by go tool pprof
$IMGLEAK report --format pprof -o "$WORK/base.pb.gz" "$WORK"/base/*.snap
go tool pprof -top "$WORK/base.pb.gz" > "$WORK/pprof.txt" 2>&1
check "pprof: go tool pprof reads it" grep -q "Type: leaked_space" "$WORK/pprof.txt"
check "pprof: the leak sites with their bytes" \
    grep -qE "^ +128kB .* map_tiles$" "$WORK/pprof.txt"
go tool pprof -top -sample_index=leaked_objects -lines "$WORK/base.pb.gz" > "$WORK/pprof2.txt" 2>&1
check "pprof: objects per line" \
    grep -qE "^ +5 .* make_buffer .*leaky.c:$(line_of $SRC/leaky.c 'LEAK(helper)')$" "$WORK/pprof2.txt"
$IMGLEAK report --format pprof -o "$WORK/magick.pb.gz" "$WORK"/magick/*.snap
go tool pprof -raw "$WORK/magick.pb.gz" > "$WORK/pprof3.txt" 2>&1
check "pprof: total bytes equal the report's" \
    test "$(awk '/^Samples:/ { on = 1; next } /^Locations/ { on = 0 } on && /^ +[0-9]+ +[0-9]+:/ { s += $2 } END { print s }' "$WORK/pprof3.txt")" \
       = "$(jq .totals.leaked_bytes "$WORK/magick.json")"

# ------------------------------------------------ HTML in headless Chromium
$IMGLEAK report --format html -o "$WORK/base.html" "$WORK"/base/*.snap
check "html: one file with no external reference" \
    bash -c "! grep -qiE '(src|href)=[\"'\'']?(https?:)?//' '$WORK/base.html'"
# the test's own script, appended to a copy: it checks the flame graph, clicks a frame and
# reports what it saw, and whether the page fetched anything, in the DOM that Chromium dumps
in_chromium() { # in_chromium PAGE PROBE.js DOM: the page with the probe appended, rendered
    { sed '/<\/body>/,$d' "$1"; echo '<script>'; cat "$2"; echo '</script></body></html>'; } > "$1.probe.html"
    timeout 120 chromium --headless --no-sandbox --disable-gpu --window-size=1200,900 \
        --virtual-time-budget=5000 --dump-dom "file://$1.probe.html" > "$3" 2> "$WORK/chromium.err"
    [ -s "$3" ] || echo "     chromium: $(tail -3 "$WORK/chromium.err")"
}
in_chromium "$WORK/base.html" $SRC/html_probe.js "$WORK/dom.html"
probe() { # probe NAME [DOM]
    local dom=${2:-$WORK/dom.html}
    grep -q "PROBE $1 ok" "$dom" || { grep -o "PROBE $1 [^<]*" "$dom" | head -1; return 1; }
}
check "html: Chromium renders the flame graph with the leak sites' names" probe frames
check "html: clicking a frame zooms to it" probe zoom
check "html: search highlights matching frames" probe search
check "html: the sites table sorts on a header click" probe sort
check "html: clicking a site row shows its full stack, source lines and handles" probe detail
check "html: clicking a flame-graph frame shows its site's details" probe frame-detail
check "html: the top-down call tree opens from main to its callees" probe tree-down
check "html: the bottom-up call tree opens from the allocating function to its callers" probe tree-up
check "html: where RSS went, one bar per process" probe rss
check "html: no growth section for single snapshots" probe no-growth
check "html: the page made no network request" probe network
# a series of snapshots of a service: the growth chart and table
mkdir "$WORK/svc"
IMGLEAK_OUT="$WORK/svc" IMGLEAK_INTERVAL=0.3 LD_PRELOAD=$(realpath $B/libimgleak.so) \
    $B/workloads/wl_service leak --seconds 2.5 > /dev/null
$IMGLEAK report --format html -o "$WORK/series.html" "$WORK"/svc/*.snap
in_chromium "$WORK/series.html" $SRC/html_views_probe.js "$WORK/dom-series.html"
check "html: a series draws live bytes per site over time, the suspect marked" probe growth-chart "$WORK/dom-series.html"
check "html: ... and the growth table, the suspect first" probe growth-table "$WORK/dom-series.html"
check "html: ... with no network request" probe network "$WORK/dom-series.html"
$IMGLEAK run --format html --report "$WORK/misuse.html" -- $B/tests/jpeg_misuse > /dev/null 2>&1
in_chromium "$WORK/misuse.html" $SRC/html_views_probe.js "$WORK/dom-misuse.html"
check "html: the misuse table names each kind of misuse at its line" probe misuse "$WORK/dom-misuse.html"
# the C file's own text is in the page's data, escaped for a <script> element
check "html: source lines embedded escaped (no raw '<' from the C file in the data)" \
    bash -c "! grep -q 'i < 2; i++' '$WORK/base.html' && grep -q 'i \\\\u003c 2; i++' '$WORK/base.html'"

# ------------------------------------------------ the same paths under AddressSanitizer/UBSan
ASAN_IMGLEAK=$B/asan/imgleak
asan_clean() { # asan_clean WANT COMMAND...: the status, and no sanitizer report
    status_is "$@" && ! grep -qE "AddressSanitizer|runtime error|LeakSanitizer" "$WORK/err" ||
        { head -5 "$WORK/err"; return 1; }
}
for f in text json pprof collapsed html; do
    check "asan: report --format $f" asan_clean 0 $ASAN_IMGLEAK report --format $f -o "$WORK/asan.$f" \
        --suppressions "$WORK/one.supp" "$WORK"/magick/*.snap
done
check "asan: gate with a baseline and JUnit" asan_clean 1 $ASAN_IMGLEAK gate --junit "$WORK/asan.xml" \
    --baseline "$WORK/base.json" "$WORK/grown.json"
check "asan: diff of a report and snapshots" asan_clean 0 $ASAN_IMGLEAK diff --format json \
    "$WORK/base.json" "$WORK"/magick/*.snap
check "asan: gate on a malformed report" asan_clean 2 $ASAN_IMGLEAK gate "$WORK/broken.json"

case $IMGLEAK in *asan*) finish "reports (asan)" ;; *) finish reports ;; esac
