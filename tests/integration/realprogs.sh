#!/usr/bin/env bash
# Real programs, clean runs: Debian's ImageMagick convert (JPEG to PNG, PNG to WebP, GIF
# -coalesce), Pillow (import; decoding JPEGs, which destroys every decompressor twice),
# libvips's vipsthumbnail and libtiff's tiffcp and tiffinfo must pass `imgleak run --gate`:
# nothing leaked, no handle left, no misuse; a GObject program of ours holds the scan's GLib rules
# to what they may and may not take. Needs the Debian packages imagemagick, python3-pil,
# libvips-tools and libtiff-tools (scripts/deps.sh --tests). Prints "realprogs: N passed, M failed".
set -u
B=${B:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
. tests/integration/lib.sh
IMGLEAK=$B/imgleak
CONVERT=/usr/bin/convert
PYTHON=/usr/bin/python3 # Debian's, with python3-pil; not a python3 earlier on PATH
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

if [ ! -x "$CONVERT" ] || ! "$PYTHON" -c 'import PIL.Image' 2> /dev/null; then
    bad "imagemagick and python3-pil are installed" "run scripts/deps.sh --tests --install"
    finish realprogs
    exit
fi

# inputs, made natively
"$CONVERT" -size 96x64 gradient:red-blue "$WORK/a.jpg" &&
    "$CONVERT" -size 96x64 gradient:green-yellow "$WORK/b.jpg" &&
    "$CONVERT" -size 96x64 pattern:checkerboard "$WORK/c.png" &&
    "$CONVERT" -size 32x32 xc:red -size 32x32 xc:blue -delay 10 "$WORK/d.gif"
check "inputs made" test $? = 0

# gate_clean NAME CMD...: the gate passes, the program did what it does natively, and the
# report holds no leak, no handle and no misuse
gate_clean() {
    local name=$1; shift
    $IMGLEAK run --gate --format json --report "$WORK/$name.json" -- "$@" > "$WORK/$name.out" 2>&1
    check "$name: imgleak run --gate passes" test $? = 0
    check "$name: no leak, no handle never destroyed, no misuse" \
        jqe '.totals | .leaked_bytes == 0 and .leaked_handles == 0 and .misused_handles == 0' \
        "$WORK/$name.json"
}

# the main thread's pthread_setspecific values are roots (glib's GPrivate in convert)
$IMGLEAK run --format json --report "$WORK/key.json" -- $B/tests/thread_key
check "pthread_setspecific on the main thread: the block is still reachable, not leaked" \
    jqe '.totals.by_class | .leaked.blocks == 0 and .reachable.bytes == 100' "$WORK/key.json"

gate_clean "convert JPEG to PNG" "$CONVERT" "$WORK/a.jpg" "$WORK/a.png"
$IMGLEAK run --no-default-suppressions --format json --report "$WORK/nosupp.json" \
    -- "$CONVERT" "$WORK/a.jpg" "$WORK/a2.png"
check "convert JPEG to PNG, without the default suppressions: nothing leaked (valgrind: none lost)" \
    jqe '.totals.by_class | .leaked.blocks == 0 and .possible.blocks == 0' "$WORK/nosupp.json"
check "convert JPEG to PNG: wrote the PNG" test -s "$WORK/a.png"
gate_clean "convert PNG to WebP" "$CONVERT" "$WORK/c.png" "$WORK/c.webp"
check "convert PNG to WebP: wrote the WebP" test -s "$WORK/c.webp"
gate_clean "convert GIF -coalesce" "$CONVERT" "$WORK/d.gif" -coalesce "$WORK/e.gif"
check "convert GIF -coalesce: wrote the GIF" test -s "$WORK/e.gif"
gate_clean "import PIL.Image" "$PYTHON" -c 'import PIL.Image'

cat > "$WORK/pil_decode.py" << 'PY'
import sys
from PIL import Image
for path in sys.argv[1:]:
    for _ in range(3):
        with Image.open(path) as im:
            im.load()
print("decoded")
PY
gate_clean "Pillow decoding JPEGs" "$PYTHON" "$WORK/pil_decode.py" "$WORK/a.jpg" "$WORK/b.jpg"
PYTHONMALLOC=malloc $IMGLEAK run --format json --report "$WORK/pymalloc.json" \
    -- "$PYTHON" -c 'import PIL.Image'
check "import PIL.Image on malloc: Pillow's and CPython's one-time allocations are suppressed" \
    jqe '[.suppressed[] | select(.pattern == "^PyInit__imaging*$" and .blocks > 0)] | length == 1' \
    "$WORK/pymalloc.json"
check "Pillow decoding JPEGs: the program ran" grep -q decoded "$WORK/Pillow decoding JPEGs.out"
# each of Pillow's extension modules keeps its libraries' version strings once (default.supp)
cat > "$WORK/pil_save.py" << 'PY'
import sys
from PIL import Image, ImageCms, ImageFont, ImageMorph
im = Image.open(sys.argv[1])
im.save(sys.argv[2] + ".webp")
im.save(sys.argv[2] + ".png", optimize=True)
print("saved")
PY
gate_clean "Pillow saving WebP and PNG" "$PYTHON" "$WORK/pil_save.py" "$WORK/a.jpg" "$WORK/saved"
check "Pillow saving WebP and PNG: wrote the WebP" test -s "$WORK/saved.webp"
# Pillow calls jpeg_destroy_decompress twice per image; libjpeg makes the second a no-op
check "Pillow decoding JPEGs: its second jpeg_destroy_decompress is not misuse" \
    jqe '[.misuse[] | select(.kind == "destroy_twice")] | length == 0' "$WORK/Pillow decoding JPEGs.json"

# Debian's vipsthumbnail (libvips on GLib): GLib points at its objects past their private data
# and at its fundamental types past a header (valgrind is told where they start, imgleak's scan
# recognises them); before, 138 KiB of them was "possibly leaked" and the gate failed
if command -v vipsthumbnail > /dev/null && command -v vips > /dev/null; then
    (cd "$WORK" && vips black black.v 200 150 --bands 3 && vips linear black.v v.jpg 1 100) > /dev/null
    # -o: relative to the input's directory
    gate_clean vipsthumbnail vipsthumbnail "$WORK/v.jpg" -s 64 -o v_thumb.png
    check "vipsthumbnail: wrote its thumbnail" test -s "$WORK/v_thumb.png"
else
    bad "vipsthumbnail is installed" "run scripts/deps.sh --tests --install (libvips-tools)"
fi
# Debian's libtiff tools: TIFFClose ends in a jump to the file's close procedure, which jumps to
# close (tiffcp, tiffinfo) or fclose; a close that returns into the shim's trampoline is still the
# program's. libtiff 4.5's TIFFOpenExt is hooked (before, every TIFFClose was misuse of a TIFF never
# seen created, and the descriptor was never destroyed: the gate failed where valgrind finds nothing)
if command -v tiffcp > /dev/null && command -v tiffinfo > /dev/null; then
    "$CONVERT" -size 96x64 gradient:red-blue "$WORK/t.tif"
    gate_clean tiffcp tiffcp "$WORK/t.tif" "$WORK/t2.tif"
    check "tiffcp: wrote the TIFF" test -s "$WORK/t2.tif"
    gate_clean tiffinfo tiffinfo "$WORK/t.tif"
    check "tiffinfo: printed the image's size" grep -q "Image Width: 96 Image Length: 64" "$WORK/tiffinfo.out"
else
    bad "tiffcp and tiffinfo are installed" "run scripts/deps.sh --tests --install (libtiff-tools)"
fi

# ... and on a GObject program of ours (tests/integration/gobject_types.c)
$IMGLEAK run --show-reachable --format json --report "$WORK/gtypes.json" -- $B/tests/gobject_types \
    > /dev/null 2>&1
check "GObject: nothing of GLib's possibly leaked (instances, fundamental types, the signal's closure)" \
    jqe '[.leaks[] | select(.class == "possible") | .site.function] | unique == ["lose_array_middle"]' \
    "$WORK/gtypes.json"
check "GObject: an array pointed into at its third element is still possibly leaked (not taken for an instance)" \
    jqe '[.leaks[] | select(.site.function == "lose_array_middle") | .class] | unique == ["possible"]' \
    "$WORK/gtypes.json"
check "GObject: an instance with private data that a global points to is reachable" \
    jqe '[.leaks[] | select(.site.function == "keep_thing_in_global") | .class] == ["reachable"]' \
    "$WORK/gtypes.json"
check "GObject: what class_init drops and an object never unrefed are still leaked" \
    jqe '[.leaks[] | select(.class == "leaked") | .site.function] | sort
         == ["drop_in_class_init", "make_forgotten_thing"]' "$WORK/gtypes.json"
$IMGLEAK run --no-default-suppressions --format json --report "$WORK/gtypes-all.json" \
    -- $B/tests/gobject_types > /dev/null 2>&1
check "GObject: without the default rules, the signal's class closure is possibly leaked (the rule means something)" \
    jqe '[.leaks[] | select(.class == "possible" and .site.function != "lose_array_middle")] | length > 0' \
    "$WORK/gtypes-all.json"

finish realprogs
