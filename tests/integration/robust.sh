#!/usr/bin/env bash
# The analyzer on bad input: files it cannot read (missing, empty, a directory, a device, a FIFO,
# garbage, a sparse giant), one file named twice, crafted snapshots (sizes that overflow, stacks
# that multiply memory, names with terminal escapes and Latin-1 bytes), JSON with huge figures,
# and output paths that are symbolic links. Every command must answer in one line and exit 2, or
# do its work, without crashing, hanging or following a link.
#   IMGLEAK=build/asan/imgleak B=build bash tests/integration/robust.sh   (the same under ASan)
# Prints "N passed, M failed".
set -u
B=${B:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
IMGLEAK=${IMGLEAK:-$B/imgleak}
RUNNER=${RUNNER:-$B/imgleak} # makes snapshots and reports: a plain build, its shim next to it
CRAFT="python3 tests/integration/craft.py"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
. "$ROOT/tests/integration/lib.sh"
LABEL=robust
case $IMGLEAK in *asan*) LABEL="robust (asan)" ;; esac

# run COMMAND...: status in $WORK/rc, streams in $WORK/out and $WORK/err; 20 s at most (a hang)
run() { timeout 20 "$@" > "$WORK/out" 2> "$WORK/err"; echo $? > "$WORK/rc"; }
sanitizer_quiet() { ! grep -qE "AddressSanitizer|runtime error|LeakSanitizer" "$WORK/err" ||
    { head -5 "$WORK/err"; return 1; }; }
status_is() { # status_is WANT COMMAND...: exits WANT, no sanitizer report
    local want=$1; shift
    run "$@"
    [ "$(cat "$WORK/rc")" = "$want" ] ||
        { echo "     exit $(cat "$WORK/rc"), expected $want: $(head -c 300 "$WORK/err")"; return 1; }
    sanitizer_quiet
}
bad_input() { # bad_input COMMAND...: exit 2 with one line "imgleak: ..." on stderr
    status_is 2 "$@" || return 1
    [ "$(grep -cv '^imgleak: warning:' "$WORK/err")" = 1 ] && grep -v '^imgleak: warning:' "$WORK/err" | grep -q '^imgleak: ' ||
        { echo "     stderr: $(head -c 300 "$WORK/err")"; return 1; }
}
err_has() { grep -q -- "$1" "$WORK/err" || { echo "     stderr: $(head -c 300 "$WORK/err")"; return 1; }; }
out_has() { grep -q -- "$1" "$WORK/out" || { echo "     stdout: $(head -c 300 "$WORK/out")"; return 1; }; }

# ------------------------------------------------ inputs: real snapshots and reports
mkdir -p "$WORK/snaps"
cc -O0 -g -o "$WORK/leaky" tests/integration/leaky.c
$RUNNER run -o "$WORK/snaps" --format json --report "$WORK/base.json" -- "$WORK/leaky" leak > /dev/null 2>&1
SNAP=$(ls "$WORK"/snaps/*.snap | head -1)
[ -f "$SNAP" ] || { echo "robust: no snapshot made"; exit 1; }
: > "$WORK/empty.snap"
printf 'not a snapshot' > "$WORK/garbage.snap"
mkdir "$WORK/dir.snap"
mkfifo "$WORK/fifo"

# ------------------------------------------------ unreadable inputs: one line, exit 2, in every command
for what in missing empty dir garbage devzero fifo; do
    case $what in
        missing) f=$WORK/none.snap ;; empty) f=$WORK/empty.snap ;; dir) f=$WORK/dir.snap ;;
        garbage) f=$WORK/garbage.snap ;; devzero) f=/dev/zero ;; fifo) f=$WORK/fifo ;;
    esac
    check "unreadable ($what): report" bad_input $IMGLEAK report "$f"
    check "unreadable ($what): gate" bad_input $IMGLEAK gate "$f"
    check "unreadable ($what): gate with a snapshot" bad_input $IMGLEAK gate "$SNAP" "$f"
    check "unreadable ($what): diff as BASE" bad_input $IMGLEAK diff "$f" "$SNAP"
    check "unreadable ($what): diff as NEW" bad_input $IMGLEAK diff "$WORK/base.json" "$f"
    check "unreadable ($what): growth" bad_input $IMGLEAK growth "$SNAP" "$f"
    check "unreadable ($what): gate --baseline" bad_input $IMGLEAK gate --baseline "$f" "$SNAP"
done
check "gate --baseline nope.json: one line naming the file" \
    bad_input $IMGLEAK gate --baseline "$WORK/nope.json" "$WORK/base.json"
check "... (message)" err_has "nope.json: No such file"
check "a FIFO as --suppressions: refused, not waited on" \
    bad_input $IMGLEAK report --suppressions "$WORK/fifo" "$SNAP"
check "... (message)" err_has "fifo: not a regular file"
check "a FIFO as a JSON report for gate" bad_input $IMGLEAK gate "$WORK/fifo"

# ------------------------------------------------ one file named twice counts once
$IMGLEAK report "$SNAP" > "$WORK/once.txt" 2> /dev/null
check "report: a snapshot named twice is read once" status_is 0 $IMGLEAK report "$SNAP" "$SNAP"
check "... the same report as naming it once" cmp -s "$WORK/once.txt" "$WORK/out"
$IMGLEAK gate "$SNAP" > "$WORK/once.gate" 2> /dev/null
check "gate: a snapshot named twice gives the verdict of once" status_is 1 $IMGLEAK gate "$SNAP" "$SNAP"
check "... the same verdict line" cmp -s "$WORK/once.gate" "$WORK/out"
check "gate: ... also under another name (a link to it)" \
    bash -c "ln -s '$SNAP' '$WORK/alias.snap' && $IMGLEAK gate '$SNAP' '$WORK/alias.snap' 2>/dev/null | cmp -s - '$WORK/once.gate'"
check "diff: a file against itself: no change" status_is 0 $IMGLEAK diff "$SNAP" "$SNAP"
check "... (0 sites changed)" out_has "0 sites and 0 handle groups changed"

# ------------------------------------------------ crafted: sizes whose sums pass 2^64
$CRAFT huge "$WORK/huge.snap"
$CRAFT plain "$WORK/plain.snap"
check "huge sizes: gate fails, the total saturated, not wrapped" status_is 1 $IMGLEAK gate "$WORK/huge.snap"
check "... (9223372036854775807 bytes, the cap)" out_has "FAILED: 9223372036854775807 bytes in 300 blocks"
check "huge sizes: the JSON report is written" \
    status_is 0 $IMGLEAK report --format json -o "$WORK/huge.json" "$WORK/huge.snap"
check "... and gate reads it back, failing" status_is 1 $IMGLEAK gate "$WORK/huge.json"
check "... with the same saturated total" out_has "FAILED: 9223372036854775807 bytes in 300 blocks"
check "huge sizes: diff both ways without overflow" status_is 0 $IMGLEAK diff "$WORK/plain.snap" "$WORK/huge.snap"
check "... and back" status_is 0 $IMGLEAK diff --format json "$WORK/huge.json" "$WORK/plain.snap"
check "... whose JSON deltas are exact or capped, never wrapped" \
    jqe '.leaked_bytes_before == 9223372036854775807 and ([.sites[].bytes_delta] | all(. <= 0))' "$WORK/out"
# (python, not jq: jq reads integers as doubles)
python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
r["leaks"] = [dict(l, bytes=2**63 - 1) for l in r["leaks"][:3]]
json.dump(r, open(sys.argv[2], "w"))' "$WORK/base.json" "$WORK/big.json"
check "JSON with three sites of 2^63-1 bytes: gate's sum saturates" status_is 1 $IMGLEAK gate "$WORK/big.json"
check "... (9223372036854775807)" out_has "FAILED: 9223372036854775807 bytes"
check "diff of it against a small report: no overflow" status_is 0 $IMGLEAK diff "$WORK/base.json" "$WORK/big.json"
python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
r["leaks"][0]["bytes"] = 2**64
json.dump(r, open(sys.argv[2], "w"))' "$WORK/base.json" "$WORK/over.json"
check "JSON with a figure past 2^64: bad input, one line" bad_input $IMGLEAK gate "$WORK/over.json"

$CRAFT bigfields "$WORK/bigfields.snap"
check "a pid and RSS of 2^64-1: the JSON report is written" \
    status_is 0 $IMGLEAK report --format json -o "$WORK/bigfields.json" "$WORK/bigfields.snap"
check "... and gate reads it back (figures capped at 2^63-1)" status_is 1 $IMGLEAK gate "$WORK/bigfields.json"

for limit in " -1" "+1" "99999999999999999999"; do
    check "gate --max-leaked-bytes '$limit': a usage error, not a limit of 2^64-1" \
        status_is 2 $IMGLEAK gate --max-leaked-bytes "$limit" "$SNAP"
done

# ------------------------------------------------ crafted: the header first, memory bounded by the file
{ printf 'garbage!'; head -c 56 /dev/zero; } > "$WORK/sparse.snap"
truncate -s 3G "$WORK/sparse.snap"
# 1 GiB of address space at most (not under ASan, which reserves terabytes): reading the file
# whole before looking at its header cannot fit
limited=(bash -c 'ulimit -v 1048576; exec "$@"' limited)
[ "$LABEL" = robust ] || limited=()
check "a 3 GB sparse file with bad magic: refused at once" bad_input "${limited[@]}" $IMGLEAK report "$WORK/sparse.snap"
check "... for its magic, not after reading 3 GB" err_has "bad magic"
head -c 64 "$SNAP" > "$WORK/sparse2.snap"
truncate -s 3G "$WORK/sparse2.snap"
check "a 3 GB file with a good magic but another size in its header: refused from the header" \
    bad_input "${limited[@]}" $IMGLEAK report "$WORK/sparse2.snap"
check "... (the header's size)" err_has "header says"
if [ "$LABEL" = robust ] && [ -x /usr/bin/time ]; then
    $CRAFT amplify "$WORK/amp.snap" 2000
    size_kb=$(( $(stat -c %s "$WORK/amp.snap") / 1024 ))
    # a frame costs 8 bytes in the file and a symbolized frame_t (~64) in the model, once; pprof
    # and html also hold their whole output in memory
    for fmt in text:32 json:32 pprof:64 html:64; do
        /usr/bin/time -f '%M' -o "$WORK/rss" $IMGLEAK report --format ${fmt%:*} -o /dev/null "$WORK/amp.snap" 2> /dev/null
        check "a stack in every kind and class (${fmt%:*}): memory within ${fmt#*:}x the file + 64 MiB ($(cat "$WORK/rss") KB for $size_kb KB)" \
            test "$(cat "$WORK/rss")" -lt $(( ${fmt#*:} * size_kb + 65536 ))
    done
fi

# ------------------------------------------------ crafted: nothing quadratic (each took a minute or more)
within() { # within SECONDS COMMAND...: finishes (any status but a timeout) in time
    local secs=$1; shift
    timeout "$secs" "$@" > /dev/null 2> "$WORK/err"
    local rc=$?
    [ $rc != 124 ] || { echo "     still running after $secs s"; return 1; }
    sanitizer_quiet
}
$CRAFT handles "$WORK/handles.snap" 40000
check "40000 handles at distinct sites: grouped in linear time" within 20 $IMGLEAK report -o /dev/null "$WORK/handles.snap"
$CRAFT names "$WORK/names.snap" 60000
check "60000 handle names: looked up, not scanned" within 20 $IMGLEAK report -o /dev/null "$WORK/names.snap"
$CRAFT sites "$WORK/g0.snap" 60000:0
$CRAFT sites "$WORK/g1.snap" 60000:1
check "two snapshots of 60000 sites: growth matches them in linear time" \
    within 20 $IMGLEAK growth -o /dev/null "$WORK/g0.snap" "$WORK/g1.snap"
python3 -c 'import json, sys
leaks = [{"kind": "heap", "class": "leaked", "in_app": True, "bytes": 10, "blocks": 1,
          "site": {"function": "f%d" % i, "file": "a.c", "line": 1}, "stack": []}
         for i in range(80000)]
json.dump({"imgleak_report": 1, "leaks": leaks, "handles": [], "totals": {}}, open(sys.argv[1], "w"))' "$WORK/many.json"
check "a JSON report of 80000 sites: gate in linear time" within 20 $IMGLEAK gate "$WORK/many.json"
check "... diff of it against itself too" within 20 $IMGLEAK diff "$WORK/many.json" "$WORK/many.json"

# ------------------------------------------------ crafted: a module path that is a FIFO
$CRAFT plain "$WORK/fifomod.snap" "$WORK/fifo"
check "a module named in a snapshot is a FIFO: the report is written" \
    status_is 0 $IMGLEAK report "$WORK/fifomod.snap"
check "... with a warning that its frames are not symbolized" err_has "fifo: not a regular file"

# ------------------------------------------------ crafted: names with escapes, newlines, Latin-1
$CRAFT strings "$WORK/s0.snap"
$CRAFT strings "$WORK/s1.snap" 1
$CRAFT strings "$WORK/s2.snap" 2
no_controls() { # no_controls FILE: no ESC, BEL or CR, and no line forged from a name
    ! LC_ALL=C grep -q "$(printf '[\033\007\r]')" "$1" && ! grep -q '^imgleak: fake line' "$1" ||
        { echo "     $(LC_ALL=C grep -n "$(printf '[\033\007\r]')\|^imgleak: fake" "$1" | head -3 | cat -v)"; return 1; }
}
for cmd in "report" "report --format collapsed" "gate" "growth" "diff $WORK/plain.snap"; do
    files="$WORK/s2.snap"
    [ "$cmd" = growth ] && files="$WORK/s0.snap $WORK/s1.snap $WORK/s2.snap"
    run $IMGLEAK $cmd $files
    check "escapes in names ($cmd): none reach the terminal on stdout" no_controls "$WORK/out"
    check "escapes in names ($cmd): ... nor in warnings on stderr" no_controls "$WORK/err"
done
run $IMGLEAK report "$WORK/s2.snap"
check "escapes in names: shown escaped (\\x1b)" out_has 'x1b\[31mred'
run $IMGLEAK diff "$WORK/base.json" "$WORK/fifo"
printf 'leak:a\033[2Jb\nbad\033]0;x\007line\n' > "$WORK/esc.supp"
check "escapes in an error message: one line, escaped" bad_input $IMGLEAK report --suppressions "$WORK/esc.supp" "$SNAP"
check "... (no raw escape)" no_controls "$WORK/err"
check "escapes and Latin-1 in names: the JSON report is valid" \
    bash -c "$IMGLEAK report --format json '$WORK/s2.snap' 2>/dev/null | jq -e . > /dev/null"
check "escapes in names: JUnit is well-formed XML" \
    bash -c "$IMGLEAK gate --junit '$WORK/esc.xml' '$WORK/s2.snap' > /dev/null 2>&1; xmllint --noout '$WORK/esc.xml'"

# ------------------------------------------------ a program built from a Latin-1-named source file
LATIN=$(printf 'caf\351')
mkdir -p "$WORK/$LATIN"
cp tests/integration/leaky.c "$WORK/$LATIN/$LATIN.c"
(cd "$WORK/$LATIN" && cc -O0 -g -o "$LATIN" "$LATIN.c")
$RUNNER run -o "$WORK/latin" --format json --report "$WORK/latin.json" -- "$WORK/$LATIN/$LATIN" leak > /dev/null 2>&1
check "Latin-1 source and module paths: the JSON report is valid (jq)" jqe . "$WORK/latin.json"
check "... and names the file as café (Latin-1 read as such)" \
    jqe '[.leaks[] | select(.site.file != null and (.site.file | endswith("café/café.c")))] | length > 0' "$WORK/latin.json"
check "... gate reads it back" status_is 1 $IMGLEAK gate "$WORK/latin.json"
check "... gate with it as the baseline of its own snapshots: no growth" \
    status_is 0 $IMGLEAK gate --baseline "$WORK/latin.json" "$WORK"/latin/*.snap
check "... diff of it against its own snapshots: nothing changed" \
    status_is 0 $IMGLEAK diff "$WORK/latin.json" "$WORK"/latin/*.snap
check "... (0 sites changed)" out_has "0 sites and 0 handle groups changed"

# ------------------------------------------------ outputs: never through a link, never onto a non-file
echo precious > "$WORK/target"
ln -s "$WORK/target" "$WORK/link"
check "-o onto a symbolic link: refused" bad_input $IMGLEAK report -o "$WORK/link" "$SNAP"
check "... its target untouched" grep -qx precious "$WORK/target"
check "diff -o onto a symbolic link: refused" bad_input $IMGLEAK diff -o "$WORK/link" "$SNAP" "$SNAP"
check "growth -o onto a symbolic link: refused" \
    bad_input $IMGLEAK growth -o "$WORK/link" "$WORK/s0.snap" "$WORK/s1.snap"
check "gate --junit onto a symbolic link: refused" status_is 2 $IMGLEAK gate --junit "$WORK/link" "$SNAP"
check "... its target untouched" grep -qx precious "$WORK/target"
check "run --report onto a symbolic link: refused" \
    status_is 2 $IMGLEAK run --report "$WORK/link" -- "$WORK/leaky" clean
check "... its target untouched" grep -qx precious "$WORK/target"
check "-o onto a FIFO: written to its reader" \
    bash -c "cat '$WORK/fifo' > '$WORK/from-fifo.txt' & $IMGLEAK report -o '$WORK/fifo' '$SNAP' && wait &&
             cmp -s '$WORK/from-fifo.txt' '$WORK/once.txt'"
check "-o /dev/stdout (a link to a stream): written" \
    bash -c "$IMGLEAK report -o /dev/stdout '$SNAP' | cmp -s - '$WORK/once.txt'"
check "-o onto a directory: refused" bad_input $IMGLEAK report -o "$WORK/dir.snap" "$SNAP"
check "-o /dev/null: written (a character device)" status_is 0 $IMGLEAK report -o /dev/null "$SNAP"
echo old > "$WORK/existing.txt"
check "-o onto an existing file: replaced" status_is 0 $IMGLEAK report -o "$WORK/existing.txt" "$SNAP"
check "... with the report" cmp -s "$WORK/existing.txt" "$WORK/once.txt"
check "... and no temporary file left" test "$(ls -A "$WORK" | grep -c '^\.existing')" = 0

finish "$LABEL"
