#!/usr/bin/env bash
# The leaked / indirect / possible split, as valgrind's definitely / indirectly / possibly lost.
# Stale words that glibc leaves in a chunk it hands out again are not pointers (stale.c); on
# wl_jpeg, whose abandoned decompressors and lost encode buffers reuse each other's memory,
# imgleak's classes match valgrind's within 1% and each leak root equals a loss record of
# valgrind's (direct bytes and blocks, indirect bytes); so do wl_mixed's forked child's classes.
# Prints "N passed, M failed".
set -u
B=${B:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
IMGLEAK=$B/imgleak
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
. "$ROOT/tests/integration/lib.sh"

class_of() { # class_of JSON FUNCTION
    jq -r --arg f "$2" '[(.leaks + .indirect)[] | select(.in_app and .site.function == $f) | .class]
                        | if length == 0 then "none" else join(",") end' "$1"
}

$IMGLEAK run --format json --report "$WORK/stale.json" -- $B/tests/stale > /dev/null 2>&1
rc=$?
check "stale: realloc keeps the program's bytes, chunks reused as the test needs (exit $rc)" test $rc = 0
for f in lose_target lose_reused lose_moved_target lose_after_move; do
    got=$(class_of "$WORK/stale.json" $f)
    check "stale: $f is leaked (got $got)" test "$got" = leaked
done

# valgrind's summary and loss records, and imgleak's classes and entries, as lines to compare
ITER=6
$IMGLEAK run --format json --report "$WORK/jpeg.json" -- $B/workloads/wl_jpeg leak --iterations $ITER > /dev/null 2>&1
valgrind --leak-check=full --log-file="$WORK/jpeg.vg" $B/workloads/wl_jpeg leak --iterations $ITER > /dev/null 2>&1
check "valgrind ran wl_jpeg" grep -q "LEAK SUMMARY" "$WORK/jpeg.vg"
vg_class() { # vg_class "definitely|indirectly|possibly": "BYTES BLOCKS"
    sed -n "s/.*$1 lost: \([0-9,]*\) bytes in \([0-9,]*\) blocks.*/\1 \2/p" "$WORK/jpeg.vg" | tr -d , | head -n1
}
il_class() { jq -r --arg c "$1" '.totals.by_class[$c] | "\(.bytes) \(.blocks)"' "$WORK/jpeg.json"; }
within() { # within "B1 N1" "B2 N2": bytes and blocks within 1% of each other
    awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ");
        for (i = 1; i <= 2; i++) { d = x[i] - y[i]; if (d < 0) d = -d; m = y[i] > x[i] ? y[i] : x[i];
                                   if (d > m / 100) exit 1 } }'
}
for pair in leaked:definitely indirect:indirectly possible:possibly; do
    ours=$(il_class ${pair%%:*}); theirs=$(vg_class ${pair#*:})
    check "jpeg: ${pair%%:*} $ours (bytes blocks) within 1% of valgrind's ${pair#*:} lost $theirs" \
        within "${ours:-x}" "${theirs:-y}"
done
for pair in leaked:definitely indirect:indirectly; do
    ours=$(il_class ${pair%%:*})
    check "jpeg: ${pair%%:*} is not empty ($ours)" test "${ours%% *}" -gt 0
done
# per root: "direct_bytes direct_blocks indirect_bytes", sorted
sed -n 's/.*== \([0-9,]*\) (\([0-9,]*\) direct, \([0-9,]*\) indirect) bytes in \([0-9,]*\) blocks are definitely lost.*/\2 \4 \3/p;
        s/.*== \([0-9,]*\) bytes in \([0-9,]*\) blocks are definitely lost.*/\1 \2 0/p' "$WORK/jpeg.vg" |
    tr -d , | sort > "$WORK/vg.roots"
jq -r '.leaks[] | select(.class == "leaked") | "\(.bytes) \(.blocks) \(.indirect_bytes)"' "$WORK/jpeg.json" |
    sort > "$WORK/il.roots"
check "jpeg: each leak root equals a valgrind loss record ($(paste -sd/ "$WORK/il.roots") vs $(paste -sd/ "$WORK/vg.roots"))" \
    cmp -s "$WORK/il.roots" "$WORK/vg.roots"

# wl_mixed's forked child does the jpeg work alone: it reads the heap it inherited as roots, which
# must not include glibc's free chunks (their words are free-list links into since reused memory).
# Only the child is compared: the parent's threads are where valgrind's own stale stack words
# sometimes make a block possible.
$IMGLEAK run -o "$WORK/mixed" -- $B/workloads/wl_mixed leak --iterations 4 > /dev/null 2>&1
valgrind --leak-check=full --log-file="$WORK/mixed.vg.%p" $B/workloads/wl_mixed leak --iterations 4 \
    > /dev/null 2>&1
child_snap=""
for f in "$WORK"/mixed/*.snap; do
    $IMGLEAK report --format json -o "$f.json" "$f"
    parent=$(jq -r '.snapshots[0].ppid' "$f.json")
    ls "$WORK"/mixed/imgleak."$parent".*.snap > /dev/null 2>&1 && child_snap=$f
done
child_vg=""
for f in "$WORK"/mixed.vg.*; do
    parent=$(sed -n 's/.*Parent PID: \([0-9]*\).*/\1/p' "$f" | head -n1)
    [ -e "$WORK/mixed.vg.$parent" ] && child_vg=$f
done
check "mixed: a child's snapshot and valgrind log found" test -n "$child_snap" -a -n "$child_vg"
for pair in leaked:definitely indirect:indirectly possible:possibly; do
    ours=$(jq -r --arg c ${pair%%:*} '.totals.by_class[$c] | "\(.bytes) \(.blocks)"' "$child_snap.json" 2>/dev/null)
    theirs=$(sed -n "s/.*${pair#*:} lost: \([0-9,]*\) bytes in \([0-9,]*\) blocks.*/\1 \2/p" "$child_vg" 2>/dev/null |
             tr -d , | head -n1)
    check "mixed child: ${pair%%:*} $ours within 1% of valgrind's ${pair#*:} lost $theirs" \
        within "${ours:-x}" "${theirs:-y}"
done

finish split
