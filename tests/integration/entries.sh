#!/usr/bin/env bash
# One bug, one entry: every view shows each leak root once, at the line that created it, with what
# hangs from it and the codec handles created there merged in. On wl_magick's three forgotten
# destroys (two MagickWands, one PixelWand per frame) and wl_jpeg's skipped
# jpeg_destroy_decompress. Prints "N passed, M failed".
set -u
B=${B:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
IMGLEAK=$B/imgleak
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
. "$ROOT/tests/integration/lib.sh"
line_with() { grep -nF "$2" "$1" | head -n1 | cut -d: -f1; } # line_with FILE TEXT

$IMGLEAK run -o "$WORK/magick" -- $B/workloads/wl_magick leak --iterations 3 > /dev/null 2>&1
$IMGLEAK report "$WORK"/magick/*.snap > "$WORK/magick.txt"
$IMGLEAK report --format json -o "$WORK/magick.json" "$WORK"/magick/*.snap
# the NewMagickWand() line in coalesce_frames, and the one after it, which reads the image in
wand=$(awk '/size_t coalesce_frames\(/ { f = 1 } f && /NewMagickWand\(\)/ { print NR; exit }' workloads/wl_magick.c)
read_line=$((wand + 1))

entries=$(grep -c "^[0-9].* at .*workloads/wl_magick.c:" "$WORK/magick.txt")
check "magick text: one entry per forgotten destroy (3, got $entries)" test "$entries" = 3
check "magick text: the header counts the entries below it" grep -q "leaked, at 3 call sites" "$WORK/magick.txt"
check "magick text: the handles and what they keep are one entry" \
    grep -q "^3 MagickWands created by NewMagickWand() never destroyed, retaining .* at coalesce_frames workloads/wl_magick.c:$wand$" "$WORK/magick.txt"
check "magick text: no entry at the line that only filled the wand (:$read_line)" \
    bash -c "! grep -q 'workloads/wl_magick.c:$read_line\$' '$WORK/magick.txt'"
$IMGLEAK report --show-indirect "$WORK"/magick/*.snap > "$WORK/magick-indirect.txt"
check "magick text: --show-indirect lists the indirect sites too" \
    grep -q "indirectly leaked at coalesce_frames workloads/wl_magick.c:$read_line" "$WORK/magick-indirect.txt"

check "magick JSON: entries only in leaks[], the indirect sites apart" \
    jqe '([.leaks[] | select(.class == "indirect")] | length) == 0 and (.indirect | length) > 0
         and .totals.sites == (.leaks | length) and .totals.indirect_sites == (.indirect | length)' "$WORK/magick.json"
check "magick JSON: each handle group names its entry, at the same site" \
    jqe '. as $r | [.handles[] | . as $h | $r.leaks[$h.entry] as $e
                    | $e.site.line == $h.site.line and ($e.handles | map(.type) | index($h.type)) != null]
         | all and length == 3' "$WORK/magick.json"
check "magick JSON: the wand entry holds its handles and what hangs from it" \
    jqe --argjson l "$wand" '[.leaks[] | select(.site.function == "coalesce_frames" and .site.line == $l)]
         | length == 1 and .[0].handles[0].type == "MagickWand" and .[0].handles[0].count == 3
           and .[0].indirect_bytes > 100000' "$WORK/magick.json"
check "magick JSON: totals are the entries plus the indirect sites" \
    jqe '.totals.leaked_bytes == ([(.leaks + .indirect)[] | select(.class != "reachable") | .bytes] | add)' "$WORK/magick.json"

$IMGLEAK gate "$WORK"/magick/*.snap > "$WORK/magick.gate"
check "magick gate: one line per bug (3)" test "$(grep -c '^workloads/wl_magick.c:' "$WORK/magick.gate")" = 3
check "magick gate: the wand line says what it retains, and the image blob it was made for" \
    grep -qE "^workloads/wl_magick.c:$wand: 3 MagickWand handles never destroyed \(coalesce_frames, created by NewMagickWand\), retaining [0-9]+ bytes in [0-9]+ blocks, on 1 input: memory:[0-9a-f]{16} \([0-9]+ bytes\)$" "$WORK/magick.gate"
check "magick gate: nothing at the line that only filled the wand" \
    bash -c "! grep -q '^workloads/wl_magick.c:$read_line:' '$WORK/magick.gate'"
$IMGLEAK gate --junit "$WORK/magick.xml" "$WORK"/magick/*.snap > /dev/null
check "magick junit: one failing case per bug, plus the two limits" \
    test "$(grep -c '<failure' "$WORK/magick.xml")" = 5

$IMGLEAK run -o "$WORK/jpeg" -- $B/workloads/wl_jpeg leak --iterations 3 > /dev/null 2>&1
$IMGLEAK gate "$WORK"/jpeg/*.snap > "$WORK/jpeg.gate"
create=$(line_with workloads/wl_jpeg.c "    jpeg_create_decompress(&cinfo);")
check "jpeg gate: the skipped destroy is charged to jpeg_create_decompress's line (:$create)" \
    grep -q "^workloads/wl_jpeg.c:$create: 3 jpeg_decompress_struct handles never destroyed (decode_jpeg" "$WORK/jpeg.gate"
check "jpeg gate: and to no other line of decode_jpeg" \
    test "$(grep -c '(decode_jpeg' "$WORK/jpeg.gate")" = 1

finish entries
