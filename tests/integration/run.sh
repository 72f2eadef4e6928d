#!/usr/bin/env bash
# Integration tests: real programs run under libimgleak.so, their reports checked against what
# the sources say they leak (LEAK(name) markers give the lines). Prints "N passed, M failed".
set -u
B=${B:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
IMGLEAK=$B/imgleak
# These tests are about what the shim records as live at exit; how the reachability scan
# classifies it is tests/integration/reach.sh's business.
export IMGLEAK_SCAN=off
ASAN_IMGLEAK=$B/asan/imgleak
SRC=tests/integration
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
JEMALLOC=$(ls /usr/lib/*/libjemalloc.so.2 2>/dev/null | head -n1)
. "$ROOT/tests/integration/lib.sh"
line_of() { grep -nF "/* $2 */" "$SRC/$1" | head -n1 | cut -d: -f1; }

# site_is JSON FUNCTION FILE LINE BYTES BLOCKS KIND: exactly one in-app site matches, with these totals
site_is() {
    local got
    got=$(jq -c --arg f "$2" --arg file "$3" --argjson l "$4" \
        '[.leaks[] | select(.in_app and .site.function == $f and .site.line == $l
          and (.site.file | endswith($file)))] | map([.bytes, .blocks, .kind])' "$1")
    [ "$got" = "[[$5,$6,\"$7\"]]" ] || { echo "     $2 $3:$4 expected [[$5,$6,\"$7\"]], got $got"; return 1; }
}
app_sites() { jq '[.leaks[] | select(.in_app)] | length' "$1"; }

# ---------------------------------------------------------------- leaky: known leaks at known lines
leaky_checks() { # leaky_checks LABEL JSON
    local j=$2
    check "$1: direct malloc charged to load_config" \
        site_is "$j" load_config leaky.c "$(line_of leaky.c 'LEAK(direct)')" 3000 3 heap
    check "$1: malloc in a helper charged to the helper's line" \
        site_is "$j" make_buffer leaky.c "$(line_of leaky.c 'LEAK(helper)')" 240 5 heap
    check "$1: the helper's stack shows its caller's line" \
        test "$(jq --argjson l "$(line_of leaky.c 'CALLER(helper)')" \
            '[.leaks[] | select(.site.function == "make_buffer") | .stack[]
              | select(.function == "build_names" and .line == $l)] | length' "$j")" = 1
    check "$1: mmap charged to map_tiles" \
        site_is "$j" map_tiles leaky.c "$(line_of leaky.c 'LEAK(mmap)')" 131072 2 mmap
    check "$1: no other site of the program" test "$(app_sites "$j")" = 3
}

$IMGLEAK run -o "$WORK/leak" --format json --report "$WORK/leak.json" -- $B/tests/leaky leak 2> "$WORK/leak.err"
check "leaky leak: imgleak run exits with the program's status" test $? = 0
leaky_checks "glibc" "$WORK/leak.json"
check "glibc: allocator statistics are glibc's" \
    test "$(jq -r '.snapshots[0].allocator' "$WORK/leak.json")" = glibc
check "totals add up to the sites" \
    test "$(jq '[.leaks[].bytes] | add' "$WORK/leak.json")" = "$(jq '.totals.leaked_bytes' "$WORK/leak.json")"

$IMGLEAK run --format json --report "$WORK/clean.json" -- $B/tests/leaky clean
check "leaky clean: nothing of the program's own is reported" test "$(app_sites "$WORK/clean.json")" = 0

if [ -n "$JEMALLOC" ]; then
    LD_PRELOAD=$JEMALLOC $IMGLEAK run --format json --report "$WORK/je.json" -- $B/tests/leaky leak
    leaky_checks "jemalloc" "$WORK/je.json"
    check "jemalloc: allocator statistics are jemalloc's" \
        test "$(jq -r '.snapshots[0].allocator' "$WORK/je.json")" = jemalloc
    LD_PRELOAD=$JEMALLOC $IMGLEAK run --format json --report "$WORK/je-clean.json" -- $B/tests/leaky clean
    check "jemalloc clean: nothing of the program's own" test "$(app_sites "$WORK/je-clean.json")" = 0
else
    bad "jemalloc is not installed (libjemalloc2)"
fi

$IMGLEAK run -- $B/tests/leaky leak > "$WORK/leak.txt" 2>&1
check "text report names the site with file and line" \
    grep -q "at load_config $SRC/leaky.c:$(line_of leaky.c 'LEAK(direct)')" "$WORK/leak.txt"

$IMGLEAK run -- sh -c 'exit 7' > /dev/null 2>&1
check "imgleak run passes the program's exit status through" test $? = 7

# ---------------------------------------------------------------- threads and fork
mkdir -p "$WORK/stress"
$IMGLEAK run -o "$WORK/stress" --report /dev/null -- $B/tests/stress 4 100000 2> /dev/null
check "stress: threads and fork run to completion" test $? = 0
snaps=("$WORK"/stress/imgleak.*.snap)
check "stress: parent and forked child each wrote a snapshot" test ${#snaps[@]} = 2
parent=""; child=""
for s in "${snaps[@]}"; do
    $IMGLEAK report --format json "$s" > "$s.json"
    if jq -e '.leaks[] | select(.site.function == "child_work")' "$s.json" > /dev/null; then
        child=$s.json; else parent=$s.json; fi
done
check "stress: 4 threads x 10 blocks kept, freed across threads otherwise" \
    site_is "$parent" worker stress.c "$(line_of stress.c 'LEAK(thread)')" 960 40 heap
check "stress: the child reports its own leak" \
    site_is "$child" child_work stress.c "$(line_of stress.c 'LEAK(child)')" 28672 7 heap
check "stress: the child's snapshot is its own pid" \
    test "$(jq '.snapshots[0].pid' "$parent")" != "$(jq '.snapshots[0].pid' "$child")"

# ---------------------------------------------------------------- edge cases behave as natively
$B/tests/semantics > "$WORK/sem-native.txt" 2>&1
$IMGLEAK run -o "$WORK/sem" --format json --report "$WORK/sem.json" -- $B/tests/semantics > /dev/null 2>&1
LD_PRELOAD=$ROOT/$B/libimgleak.so IMGLEAK_OUT=$WORK $B/tests/semantics > "$WORK/sem-shim.txt" 2>&1
check "semantics: output identical with and without the shim" cmp -s "$WORK/sem-native.txt" "$WORK/sem-shim.txt"
page=$(getconf PAGESIZE)
check "semantics: partial munmap leaves 6 of 8 pages" \
    site_is "$WORK/sem.json" main semantics.c "$(line_of semantics.c 'LEAK(after_partial_munmap)')" $((6 * page)) 2 mmap
check "semantics: mremap'd mapping charged to the mremap line" \
    site_is "$WORK/sem.json" main semantics.c "$(line_of semantics.c 'LEAK(mremap_moved)')" $((16 * page)) 1 mmap
check "semantics: realloc'd block charged to realloc with its new size" \
    site_is "$WORK/sem.json" main semantics.c "$(line_of semantics.c 'LEAK(realloc_grown)')" 5000 1 heap
check "semantics: realloc(NULL, n) then realloc frees the first block" \
    test "$(jq --argjson l "$(line_of semantics.c 'LEAK(realloc_null)')" '[.leaks[] | select(.site.line == $l)] | length' "$WORK/sem.json")" = 0
check "semantics: the four aligned allocations" \
    test "$(jq '[.leaks[] | select(.site.function == "main" and .kind == "heap" and (.bytes == 100 or .bytes == 256))] | length' "$WORK/sem.json")" = 4

# ---------------------------------------------------------------- a library unloaded before exit
$IMGLEAK run --format json --report "$WORK/plugin.json" -- $B/tests/dlopen_host "$ROOT/$B/tests/plugin.so"
check "dlopen: the host ran" test $? = 0
check "dlclose'd plugin: its leak is still named" \
    site_is "$WORK/plugin.json" plugin_make_cache plugin.c "$(line_of plugin.c 'LEAK(plugin)')" 333 1 heap

# ---------------------------------------------------------------- codec handles
# misuse_is JSON KIND FUNCTION LINE: one misuse of that kind, by that destroy, at that line
misuse_is() {
    test "$(jq -c --arg k "$2" --arg f "$3" --argjson l "$4" \
        '[.misuse[] | select(.kind == $k and .function == $f and .site.line == $l) | .count]' "$1")" = "[1]"
}
$IMGLEAK run --format json --report "$WORK/misuse.json" -- $B/tests/jpeg_misuse
check "jpeg misuse: the program runs as natively" test $? = 0
check "jpeg misuse: a second destroy (libjpeg: a no-op) is not misuse" \
    test "$(jq '[.misuse[] | select(.kind == "destroy_twice")] | length' "$WORK/misuse.json")" = 0
check "jpeg misuse: destroying a never-created struct whose mem is NULL is not misuse" \
    test "$(jq '[.misuse[] | select(.kind == "destroy_unknown")] | length' "$WORK/misuse.json")" = 0
check "jpeg misuse: the wrong destroy function is reported" \
    misuse_is "$WORK/misuse.json" destroy_wrong_type jpeg_destroy_compress "$(line_of jpeg_misuse.c 'MISUSE(wrong)')"
check "jpeg misuse: exactly one misuse" test "$(jq '.totals.misused_handles' "$WORK/misuse.json")" = 1
check "jpeg misuse: the one never destroyed is the one leaked handle" \
    test "$(jq -c '[.handles[] | [.type, .function, .count, .site.line]]' "$WORK/misuse.json")" = \
         "[[\"jpeg_decompress_struct\",\"jpeg_CreateDecompress\",1,$(line_of jpeg_misuse.c 'LEAK(handle)')]]"
$IMGLEAK run --format json --report "$WORK/rescale.json" -- $B/tests/webp_rescale > /dev/null
check "WebPPictureRescale: the program runs as natively" test $? = 0
check "WebPPictureRescale: the picture it re-allocates and the program never frees is reported" \
    test "$(jq -c '[.handles[] | [.type, .function, .count, .site.line]]' "$WORK/rescale.json")" = \
         "[[\"WebPPicture\",\"WebPPictureImportRGBA\",1,$(line_of webp_rescale.c 'LEAK(rescaled)')]]"
check "WebPPictureRescale: its internal free is not misuse" test "$(jq '.totals.misused_handles' "$WORK/rescale.json")" = 0
# GLib's slices: imgleak run makes each its own malloc block (G_SLICE=always-malloc), charged to
# the line that took it; a G_SLICE the user gives stands
IMGLEAK_SCAN=exit $IMGLEAK run --format json --report "$WORK/slices.json" -- $B/tests/glib_slices > "$WORK/slices.out"
check "G_SLICE: imgleak run sets always-malloc" grep -qx "G_SLICE=always-malloc" "$WORK/slices.out"
check "G_SLICE: ten lost slices are ten blocks leaked at their line" \
    test "$(jq -c '[.leaks[] | select(.class == "leaked") | [.site.function, .site.line, .blocks]]' "$WORK/slices.json")" = \
         "[[\"keep_slices\",$(line_of glib_slices.c 'LEAK(slice)'),10]]"
G_SLICE=debug-blocks $IMGLEAK run -- $B/tests/glib_slices > "$WORK/slices_user.out" 2> /dev/null
check "G_SLICE: the user's own setting stands" grep -qx "G_SLICE=debug-blocks" "$WORK/slices_user.out"
$IMGLEAK run --format json --report "$WORK/late.json" -- $B/tests/plugin_host "$ROOT/$B/tests/png_plugin.so"
check "late dlopen: the host ran" test $? = 0
check "late dlopen: libpng brought in by a plugin is still hooked" \
    test "$(jq -c '[.handles[] | [.type, .function, .count, .site.function, .site.line]]' "$WORK/late.json")" = \
         "[[\"png_struct (read)\",\"png_create_read_struct\",1,\"plugin_abandon_reader\",$(line_of png_plugin.c 'LEAK(late)')]]"
$IMGLEAK run --frames 2 -- $B/tests/jpeg_misuse > "$WORK/misuse.txt" 2>&1
check "text report says which handle was never destroyed and where" \
    grep -q "1 jpeg_decompress_struct created by jpeg_CreateDecompress() never destroyed, retaining .* at main $SRC/jpeg_misuse.c:$(line_of jpeg_misuse.c 'LEAK(handle)')" "$WORK/misuse.txt"

# ---------------------------------------------------------------- limits are counted, not fatal
IMGLEAK_DEPTH=2 $IMGLEAK run --format json --report "$WORK/depth.json" -- $B/tests/leaky leak
check "IMGLEAK_DEPTH=2: cut stacks are counted" test "$(jq '.totals.truncated_stacks > 0' "$WORK/depth.json")" = true
check "IMGLEAK_DEPTH=2: sites still found" \
    site_is "$WORK/depth.json" load_config leaky.c "$(line_of leaky.c 'LEAK(direct)')" 3000 3 heap
IMGLEAK_MAX_LIVE=64 $IMGLEAK run --format json --report "$WORK/full.json" -- $B/tests/stress 2 20000
check "IMGLEAK_MAX_LIVE=64: the program still succeeds" test $? = 0
check "IMGLEAK_MAX_LIVE=64: dropped blocks are reported" test "$(jq '.totals.dropped_table_full > 0' "$WORK/full.json")" = true

# ---------------------------------------------------------------- bad input: one line, exit 2
bad_input() { # bad_input DESC FILE EXPECTED-TEXT
    local err rc
    err=$($IMGLEAK report "$2" 2>&1 >/dev/null); rc=$?
    if [ $rc = 2 ] && [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] && [[ $err == imgleak:*"$3"* ]]; then
        ok "$1"; else bad "$1" "exit $rc: $err"; fi
}
head -c 4096 /dev/urandom > "$WORK/garbage.snap"
bad_input "garbage file is refused" "$WORK/garbage.snap" "not an imgleak snapshot"
real=$(ls "$WORK"/leak/imgleak.*.snap | head -n1)
head -c 300 "$real" > "$WORK/cut.snap"
bad_input "truncated snapshot is refused" "$WORK/cut.snap" "truncated"
bad_input "missing file is refused" "$WORK/nope.snap" "No such file"
bad_input "a directory is refused" "$WORK" "not a regular file"
$IMGLEAK report --format yaml "$real" > /dev/null 2>&1
check "unknown format is refused with exit 2" test $? = 2

# ---------------------------------------------------------------- the analyzer under ASan/UBSan
if [ -x "$ASAN_IMGLEAK" ]; then
    for s in "$real" "${snaps[@]}" "$WORK"/sem/imgleak.*.snap; do
        ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 \
            "$ASAN_IMGLEAK" report --format json "$s" > "$WORK/asan.json" 2> "$WORK/asan.err"
        check "asan analyzer reads $(basename "$s") cleanly" test $? = 0 -a ! -s "$WORK/asan.err"
    done
    ASAN_OPTIONS=detect_leaks=1 "$ASAN_IMGLEAK" report "$WORK/cut.snap" > /dev/null 2>&1
    check "asan analyzer refuses a truncated file cleanly" test $? = 2
fi

finish integration
