#!/usr/bin/env bash
# Symbolization of real builds. Inlined frames in optimized builds: the same leak (tests/integration/inline.c, through two
# inline helpers and an inlined static function) built with gcc and clang at -O0, -O2, -O3 and
# with LTO must show the same stack: every inlined function with its own line, and each function
# it was inlined into at the line of the call, as addr2line -i prints them. C++ functions are
# named with their namespace and class, from DWARF and from the symbol table alone.
# Prints "N passed, M failed".
set -u
B=${B:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
export IMGLEAK_SCAN=off
SRC=tests/integration
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
. "$ROOT/tests/integration/lib.sh"
line_of() { grep -nF "/* $2 */" "$SRC/$1" | head -n1 | cut -d: -f1; }

want="xmalloc:$(line_of inline_helpers.h 'INL(xmalloc)')"
want="$want alloc_row:$(line_of inline_helpers.h 'INL(alloc_row)')"
want="$want decode_rows:$(line_of inline.c 'INL(decode_rows)')"
want="$want read_image:$(line_of inline.c 'INL(read_image)')"
want="$want main:$(line_of inline.c 'INL(main)')"

# variant LABEL COMPILER FLAGS...: build, run under the shim, compare the leak's stack
variant() {
    local label=$1; shift
    local exe="$WORK/inline-${label// /_}"
    if ! "$@" -g -std=gnu11 -Wall -Wextra -Werror -I$SRC $SRC/inline.c -o "$exe" 2> "$WORK/cc.err"; then
        bad "$label: builds" "$(head -3 "$WORK/cc.err")"; return
    fi
    for analyzer in "$B/imgleak" "$B/asan/imgleak"; do
        [ -x "$analyzer" ] || continue
        rm -rf "$WORK/snaps"
        ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 \
            "$analyzer" run -o "$WORK/snaps" --format json --report "$WORK/r.json" -- "$exe" > /dev/null 2> "$WORK/err"
        local got
        got=$(jq -r '[.leaks[] | select(.in_app and .bytes == 1800 and .blocks == 6)] | if length == 1 then
                 [.[0].stack[] | select(.module | test("libc\\.so") | not) | select(.function != "_start")
                  | "\(.function):\(.line)"] | join(" ") else "\(length) matching leaks" end' "$WORK/r.json" 2> /dev/null)
        check "$label ($(basename "$(dirname "$analyzer")")/imgleak): the stack names every inlined frame at its line" \
            test "$got" = "$want" || echo "     want: $want"$'\n'"     got:  $got"
    done
}

variant "gcc -O0" gcc -O0
variant "gcc -O2" gcc -O2
variant "gcc -O3" gcc -O3
variant "gcc -O2 -flto" gcc -O2 -flto
variant "clang -O2" clang -O2
variant "clang -O3" clang -O3
variant "clang -O2 -flto" clang -O2 -flto -fuse-ld=lld
# ---------------------------------------------------------------- C++ names
cxx_has() { # cxx_has JSON FUNCTION: a leak's site names FUNCTION
    jq -e --arg f "$2" '[.leaks[] | select(.site.function == $f)] | length >= 1' "$1" > /dev/null
}
for debug in -g -g0; do
    g++ -O2 $debug -Wall -Wextra -Werror $SRC/cxx_names.cc -o "$WORK/cxx$debug"
    rm -rf "$WORK/snaps"
    $B/imgleak run -o "$WORK/snaps" --format json --report "$WORK/cxx.json" -- "$WORK/cxx$debug" > /dev/null 2>&1
    check "C++ ($debug): a method is named with its namespace, class and parameters" \
        cxx_has "$WORK/cxx.json" "preview::Cache::keep(preview::Mat const&)"
    check "C++ ($debug): a function is named with its namespace and parameters" \
        cxx_has "$WORK/cxx.json" "preview::keep_preview(preview::Mat const&)"
done
check "C++: a suppression names the qualified function" \
    bash -c "printf 'leak:preview::Cache::keep\n' > '$WORK/cxx.supp' &&
        $B/imgleak report --suppressions '$WORK/cxx.supp' --format json '$WORK'/snaps/imgleak.*.snap |
        jq -e '[.leaks[] | select(.in_app) | .site.function] == [\"preview::keep_preview(preview::Mat const&)\"]' > /dev/null"

# ---------------------------------------------------------------- frames and paths shown alike
gcc -O2 -g -std=gnu11 -I$SRC $SRC/inline.c -o "$WORK/paths"
rm -rf "$WORK/snaps"
$B/imgleak run -o "$WORK/snaps" -- "$WORK/paths" > /dev/null 2>&1
snap=$(ls "$WORK"/snaps/imgleak.*.snap)
$B/imgleak report "$snap" > "$WORK/paths.txt"
$B/imgleak report --format collapsed "$snap" > "$WORK/paths.collapsed"
$B/imgleak report --format json -o "$WORK/paths.json" "$snap"
check "the C runtime's start frames are not in the text report" \
    bash -c "! grep -qE '__libc_start|_start \\(|start_thread' '$WORK/paths.txt'"
check "... nor in collapsed stacks, which begin at main" \
    bash -c "! grep -qE '__libc_start|(^|;)_start;' '$WORK/paths.collapsed' && grep -q '^main;' '$WORK/paths.collapsed'"
check "... and JSON keeps them" \
    jqe '[.leaks[].stack[].function] | index("__libc_start_call_main") != null' "$WORK/paths.json"
check "a source below the current directory is shown relative to it, in text and JSON" \
    bash -c "grep -q ' $SRC/inline_helpers.h:' '$WORK/paths.txt' &&
        jq -e '[.leaks[].stack[].file] | index(\"$SRC/inline.c\") != null' '$WORK/paths.json' > /dev/null"
(cd / && "$ROOT/$B/imgleak" report "$snap") > "$WORK/paths-away.txt" # from /, paths stay absolute
check "... and absolute from elsewhere" grep -q " $ROOT/$SRC/inline.c:" "$WORK/paths-away.txt"
check "a library's source named relative to its compile directory is normalized (no ../)" \
    bash -c "! jq -r '.leaks[].stack[].file // empty' '$WORK/paths.json' | grep -q '\\.\\./'"

finish symbols
