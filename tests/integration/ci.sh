#!/usr/bin/env bash
# What CI systems read, checked against those readers' own rules: GitHub Actions annotations (the
# workflow command's pattern), GitLab's Code Quality report (its JSON schema's required fields and
# types), JUnit XML (the Ant schema CI servers validate against, and Jenkins' lenient one, with
# xmllint); --fail-on; and imgleak suppress, whose rules make the gate pass. Prints "N passed,
# M failed".
set -u
B=${B:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
IMGLEAK=$(realpath $B/imgleak)
SRC=tests/integration
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
. "$ROOT/tests/integration/lib.sh"
status_is() { # status_is WANT COMMAND...: the command exits with WANT; output in $WORK/out, err
    local want=$1; shift
    "$@" > "$WORK/out" 2> "$WORK/err"
    local got=$?
    [ "$got" = "$want" ] || { echo "     exit $got, expected $want: $(head -c 300 "$WORK/err")"; return 1; }
}
line_of() { grep -nF "/* $2 */" "$1" | head -n1 | cut -d: -f1; }
same_count() { [ "$1" = "$2" ] || { echo "     $1 != $2"; return 1; }; }

mkdir -p "$WORK/bin"
cc -O0 -g -o "$WORK/bin/leaky" $SRC/leaky.c
$IMGLEAK run -o "$WORK/base" --format json --report "$WORK/base.json" -- "$WORK/bin/leaky" leak > /dev/null 2>&1
$IMGLEAK run -o "$WORK/magick" --format json --report "$WORK/magick.json" -- $B/workloads/wl_magick leak --iterations 3 > /dev/null 2>&1

# ------------------------------------------------ GitHub annotations
# ::error file=PATH,line=N,title=imgleak::MESSAGE, PATH relative to the repository root
GH='^::error file=[^,:]+,line=[0-9]+,title=imgleak::.+$'
$IMGLEAK gate --annotations github "$WORK/base.json" > "$WORK/gh.txt"
check "github: every annotation has the workflow command's form" \
    bash -c "! grep '^::' '$WORK/gh.txt' | grep -vqE '$GH'"
check "github: one annotation per gate line (3)" \
    same_count "$(grep -cE "$GH" "$WORK/gh.txt")" "$(grep -c '^[^:]*:[0-9]*: ' "$WORK/gh.txt")"
check "github: the leak's line, path relative to the repository root, the gate's message" \
    grep -qx "::error file=$SRC/leaky.c,line=$(line_of $SRC/leaky.c 'LEAK(direct)'),title=imgleak::3000 bytes in 3 blocks leaked (load_config)" "$WORK/gh.txt"
(cd tests && $IMGLEAK gate --annotations github "$WORK/base.json") > "$WORK/gh-sub.txt"
check "github: from a subdirectory, paths are still from the git top-level" \
    grep -q "^::error file=$SRC/leaky.c,line=" "$WORK/gh-sub.txt"
$IMGLEAK gate --annotations github --annotations-root tests "$WORK/base.json" > "$WORK/gh-root.txt"
check "github: --annotations-root DIR makes them relative to DIR" \
    grep -q "^::error file=integration/leaky.c,line=" "$WORK/gh-root.txt"
# outside any repository: the current directory is the root; an absolute path inside it is cut
mkdir -p "$WORK/proj/src" && cp $SRC/leaky.c "$WORK/proj/src/"
(cd "$WORK/proj" && cc -O0 -g -o leaky "$WORK/proj/src/leaky.c" &&
 $IMGLEAK run -o snaps -- ./leaky leak > /dev/null 2>&1
 $IMGLEAK gate --annotations github snaps/*.snap) > "$WORK/gh-norepo.txt"
check "github: no repository: relative to the current directory" \
    grep -q "^::error file=src/leaky.c,line=$(line_of $SRC/leaky.c 'LEAK(direct)'),title=imgleak::3000 bytes" "$WORK/gh-norepo.txt"
$IMGLEAK gate --annotations github "$WORK/magick.json" > "$WORK/gh-magick.txt"
check "github: a handle bug is one annotation, commas in the message kept" \
    grep -qE "^::error file=workloads/wl_magick.c,line=[0-9]+,title=imgleak::3 MagickWand handles never destroyed \(coalesce_frames, created by NewMagickWand\), retaining" "$WORK/gh-magick.txt"
check "run --gate --annotations github: annotations on stderr, exit 1" \
    status_is 1 $IMGLEAK run --gate --annotations github -- "$WORK/bin/leaky" leak
check "run --gate --annotations github: ... three of them" test "$(grep -cE "$GH" "$WORK/err")" = 3
check "annotations: an unknown kind is bad input (exit 2)" \
    status_is 2 $IMGLEAK gate --annotations jenkins "$WORK/base.json"

# ------------------------------------------------ GitLab Code Quality report
# the schema's rules (gitlab's codequality report): an array of issues, each with description,
# check_name, fingerprint (strings), severity (info|minor|major|critical|blocker), location.path
# (a string) and location.lines.begin (an integer >= 1); fingerprints unique
cat > "$WORK/cq_check.py" <<'PY'
import json, os, sys
issues = json.load(open(sys.argv[1]))
want = int(sys.argv[2])
assert isinstance(issues, list), "not an array"
assert len(issues) == want, "%d issues, expected %d" % (len(issues), want)
for i in issues:
    for k in ("description", "check_name", "fingerprint"):
        assert isinstance(i.get(k), str) and i[k], "%s: not a non-empty string" % k
    assert i.get("severity") in ("info", "minor", "major", "critical", "blocker"), i.get("severity")
    loc = i.get("location")
    assert isinstance(loc, dict) and isinstance(loc.get("path"), str), "location.path"
    assert not loc["path"].startswith("/"), "absolute path " + loc["path"]
    assert os.path.exists(loc["path"]), "no such file in the repository: " + loc["path"]
    begin = loc.get("lines", {}).get("begin")
    assert isinstance(begin, int) and not isinstance(begin, bool) and begin >= 1, "lines.begin"
assert len({i["fingerprint"] for i in issues}) == len(issues), "fingerprints not unique"
PY
cq_valid() { python3 "$WORK/cq_check.py" "$@" 2>&1 | tail -1 | sed 's/^/     /'; return "${PIPESTATUS[0]}"; }
$IMGLEAK gate --annotations gitlab="$WORK/cq.json" "$WORK/base.json" > "$WORK/gate.txt"
check "gitlab: the report follows the Code Quality schema, one issue per gate line (3)" cq_valid "$WORK/cq.json" 3
check "gitlab: the issue names the line and says what the gate says" \
    jqe --arg l "$(line_of $SRC/leaky.c 'LEAK(helper)')" \
        'any(.[]; .location.path == "tests/integration/leaky.c" and .location.lines.begin == ($l | tonumber)
                  and .description == "240 bytes in 5 blocks leaked (make_buffer)")' "$WORK/cq.json"
$IMGLEAK gate --annotations gitlab="$WORK/cq2.json" "$WORK"/base/*.snap > /dev/null
check "gitlab: fingerprints stay the same from one run to the next" \
    test "$(jq -c '[.[].fingerprint] | sort' "$WORK/cq.json")" = "$(jq -c '[.[].fingerprint] | sort' "$WORK/cq2.json")"
$IMGLEAK gate --annotations gitlab="$WORK/cq-magick.json" --annotations github "$WORK/magick.json" > /dev/null
check "gitlab: handle bugs too, with github at the same time (3)" cq_valid "$WORK/cq-magick.json" 3
$IMGLEAK run -o "$WORK/clean" -- "$WORK/bin/leaky" clean > /dev/null 2>&1
$IMGLEAK gate --annotations gitlab="$WORK/cq-clean.json" "$WORK"/clean/*.snap > /dev/null
check "gitlab: a passing gate writes an empty array" cq_valid "$WORK/cq-clean.json" 0

# ------------------------------------------------ JUnit against the schemas CI servers use
junit_valid() { xmllint --noout --schema "$1" "$2" 2>&1 | grep -v ' validates$' | head -3 | sed 's/^/     /'; return "${PIPESTATUS[0]}"; }
$IMGLEAK gate --junit "$WORK/junit.xml" "$WORK/base.json" > /dev/null
$IMGLEAK gate --junit "$WORK/junit-magick.xml" "$WORK/magick.json" > /dev/null
$IMGLEAK gate --junit "$WORK/junit-clean.xml" "$WORK"/clean/*.snap > /dev/null
for x in junit junit-magick junit-clean; do
    check "junit ($x): valid under Ant's JUnit.xsd" junit_valid tests/schemas/JUnit.xsd "$WORK/$x.xml"
    check "junit ($x): valid under Jenkins' junit XSD" junit_valid tests/schemas/jenkins-junit.xsd "$WORK/$x.xml"
done
check "junit: one failing test case per leak root (3), named after its site" \
    test "$(xmllint --xpath 'count(//testcase[@classname="imgleak.leaks"]/failure)' "$WORK/junit.xml")" = 3
check "junit: ... e.g. load_config's" \
    test "$(xmllint --xpath "string(//testcase[@name='load_config ($SRC/leaky.c:$(line_of $SRC/leaky.c 'LEAK(direct)'))']/failure/@message)" "$WORK/junit.xml")" \
       = "3000 bytes in 3 blocks leaked (load_config)"
check "junit: magick: three roots, handles and memory in one case each" \
    test "$(xmllint --xpath 'count(//testcase[@classname="imgleak.leaks"])' "$WORK/junit-magick.xml")" = 3
check "junit: tests and failures attributes count the cases" \
    test "$(xmllint --xpath 'concat(//testsuite/@tests, "/", //testsuite/@failures)' "$WORK/junit.xml")" = "$(xmllint --xpath 'concat(count(//testcase), "/", count(//failure))' "$WORK/junit.xml")"

# ------------------------------------------------ --fail-on
check "fail-on: the default fails on leaked memory (as before)" status_is 1 $IMGLEAK gate "$WORK/base.json"
check "fail-on handles: leaked memory alone passes" status_is 0 $IMGLEAK gate --fail-on handles "$WORK/base.json"
check "fail-on handles: ... the summary says what was counted" grep -q "failing on handles" "$WORK/out"
check "fail-on leaked: MagickWand handles alone do not fail (bytes allowed)" \
    status_is 0 $IMGLEAK gate --fail-on leaked --max-leaked-bytes 1000000000 "$WORK/magick.json"
check "fail-on leaked,handles: they do" \
    status_is 1 $IMGLEAK gate --fail-on leaked,handles --max-leaked-bytes 1000000000 "$WORK/magick.json"
check "fail-on: an unknown kind is bad input (exit 2)" status_is 2 $IMGLEAK gate --fail-on leaks "$WORK/base.json"
check "fail-on: ... naming the choices" grep -q "leaked, possible, handles, growth" "$WORK/err"
# tests/reach: 412 B leaked + 344 B hanging from them, 384 B possibly leaked
$IMGLEAK run --format json --report "$WORK/reach.json" -- $B/tests/reach > /dev/null 2>&1
check "fail-on leaked: possibly leaked memory not counted (756 B pass)" \
    status_is 0 $IMGLEAK gate --fail-on leaked --max-leaked-bytes 756 "$WORK/reach.json"
check "fail-on possible: only it is (384 B pass, 383 fail)" \
    bash -c "$IMGLEAK gate --fail-on possible --max-leaked-bytes 384 '$WORK/reach.json' > /dev/null &&
             ! $IMGLEAK gate --fail-on possible --max-leaked-bytes 383 '$WORK/reach.json' > /dev/null"
check "fail-on: the default counts both (1140 B, as before)" \
    bash -c "$IMGLEAK gate --max-leaked-bytes 1140 '$WORK/reach.json' > /dev/null &&
             ! $IMGLEAK gate --max-leaked-bytes 1139 '$WORK/reach.json' > /dev/null"
# growth: a series of snapshots of a service whose make_thumbnail leaks on every request
mkdir "$WORK/svc"
IMGLEAK_OUT="$WORK/svc" IMGLEAK_INTERVAL=0.3 LD_PRELOAD=$(realpath $B/libimgleak.so) \
    $B/workloads/wl_service leak --seconds 2.5 > /dev/null
$IMGLEAK report --format json -o "$WORK/series.json" "$WORK"/svc/*.snap
check "fail-on growth: the growing site fails the gate, on its own line" \
    status_is 1 $IMGLEAK gate --fail-on growth --accept-dropped "$WORK"/svc/*.snap
check "fail-on growth: ... 'grew steadily ... a leak suspect (make_thumbnail)'" \
    grep -qE "^workloads/wl_service.c:[0-9]+: grew steadily by [0-9]+ bytes/s to [0-9]+ bytes, a leak suspect \(make_thumbnail\)$" "$WORK/out"
check "fail-on growth: the same from the JSON report of the series" \
    status_is 1 $IMGLEAK gate --fail-on growth --accept-dropped "$WORK/series.json"
check "fail-on growth: JUnit has a growth case" \
    bash -c "$IMGLEAK gate --fail-on growth --junit '$WORK/junit-growth.xml' '$WORK/series.json' > /dev/null;
             xmllint --noout --schema tests/schemas/JUnit.xsd '$WORK/junit-growth.xml' 2> /dev/null &&
             xmllint --xpath '//testcase/failure[@type=\"growth\"]' '$WORK/junit-growth.xml' > /dev/null"
check "fail-on growth: a single snapshot has no growth and passes" \
    status_is 0 $IMGLEAK gate --fail-on growth --accept-dropped "$(ls "$WORK"/svc/*.snap | tail -1)"

# ------------------------------------------------ imgleak suppress
$IMGLEAK suppress "$WORK"/base/*.snap > "$WORK/gen.supp"
check "suppress: one leak: rule per entry of the program (3)" test "$(grep -c '^leak:' "$WORK/gen.supp")" = 3
check "suppress: the innermost program frame's function, after a comment naming the site and bytes" \
    bash -c "grep -A1 -xF '# $SRC/leaky.c:$(line_of $SRC/leaky.c 'LEAK(helper)'): 240 bytes in 5 blocks leaked (make_buffer)' '$WORK/gen.supp' | grep -qxF 'leak:^make_buffer\$'"
check "suppress: fed back, the gate passes" \
    status_is 0 $IMGLEAK gate --suppressions "$WORK/gen.supp" "$WORK"/base/*.snap
check "suppress: ... having hidden all of it" grep -q "suppressed: 134312 bytes" "$WORK/out"
check "suppress: the report leaves the program with no leak" \
    jqe '[.leaks[] | select(.in_app)] | length == 0' <($IMGLEAK report --format json --suppressions "$WORK/gen.supp" "$WORK"/base/*.snap)
$IMGLEAK suppress -o "$WORK/magick.supp" "$WORK"/magick/*.snap
check "suppress: magick: handles and memory pass the gate once fed back" \
    status_is 0 $IMGLEAK gate --suppressions "$WORK/magick.supp" "$WORK"/magick/*.snap
check "suppress: without the file the gate fails" status_is 1 $IMGLEAK gate "$WORK"/magick/*.snap
check "suppress: no snapshot is bad input (exit 2)" status_is 2 $IMGLEAK suppress

# ------------------------------------------------ the same paths under AddressSanitizer/UBSan
ASAN_IMGLEAK=$(realpath $B/asan/imgleak)
asan_clean() { # asan_clean WANT COMMAND...: the status, and no sanitizer report
    status_is "$@" && ! grep -qE "AddressSanitizer|runtime error|LeakSanitizer" "$WORK/err" ||
        { head -5 "$WORK/err"; return 1; }
}
check "asan: gate with annotations, JUnit and --fail-on growth" asan_clean 1 $ASAN_IMGLEAK gate \
    --annotations github --annotations gitlab="$WORK/asan-cq.json" --junit "$WORK/asan.xml" \
    --fail-on leaked,possible,handles,growth "$WORK"/svc/*.snap
check "asan: gate on a JSON series with --fail-on growth" asan_clean 1 $ASAN_IMGLEAK gate \
    --fail-on growth "$WORK/series.json"
check "asan: suppress" asan_clean 0 $ASAN_IMGLEAK suppress "$WORK"/magick/*.snap

finish ci
