#!/usr/bin/env bash
# Declared handle types (docs/HANDLES.md): imgleak run --handles refuses a malformed file with the
# line that is wrong, before the program runs; the shim given one by IMGLEAK_HANDLES says so and
# leaves the program untracked, its output unchanged; a declared pair is counted in the report and
# by the gate's --max-leaked-handles, in a library loaded at start and in one loaded by dlopen,
# from threads, with C++ exceptions crossing the hook, ending in a tail call to close or fclose
# (libtiff's TIFFClose); ONNX Runtime's OrtApi table is patched;
# vipsthumbnail's images are all released.
# (workloads.sh holds the userbuf, vips and opencv workloads to their truth.) Prints "N passed, M failed".
set -u
B=${B:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
IMGLEAK=$ROOT/$B/imgleak
SHIM=$ROOT/$B/libimgleak.so
WL=$ROOT/$B/workloads
DECL=$ROOT/workloads/userbuf/userbuf.handles
export IMGLEAK_SCAN=off
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
. "$ROOT/tests/integration/lib.sh"

# ---- a malformed file: refused with its line, the program never started ----
printf 'type UserBuf lib=libuserbuf.so\n\n# a comment\ncreate UserBuf buf_new retrun\n' > "$WORK/bad.handles"
"$IMGLEAK" run --handles "$WORK/bad.handles" -- touch "$WORK/ran" > "$WORK/bad.out" 2> "$WORK/bad.err"
rc=$?
check "run --handles with a bad line exits 2 (got $rc)" [ "$rc" = 2 ]
check "the error names the file and line 4" grep -q "^imgleak: $WORK/bad.handles:4: unknown word 'retrun'" "$WORK/bad.err"
check "the program did not run" [ ! -e "$WORK/ran" ]
# the codecs are built-in declarations too (codecs.handles): a file may not hook one again
printf 'type MyPng lib=libmypng.so\ncreate MyPng png_create_read_struct return\n' > "$WORK/again.handles"
"$IMGLEAK" run --handles "$WORK/again.handles" -- touch "$WORK/ran-again" 2> "$WORK/again.err"
rc=$?
refused_before_running() {
    [ "$rc" = 2 ] && [ ! -e "$WORK/ran-again" ] &&
        grep -qx "imgleak: $WORK/again.handles:2: png_create_read_struct is one of imgleak's built-in hooks" \
            "$WORK/again.err"
}
check "run --handles refuses a codec function declared again, at its line, before the program runs (rc $rc)" \
    refused_before_running
"$IMGLEAK" run --handles "$WORK/missing.handles" -- true 2> "$WORK/missing.err"
rc=$?
check "run --handles with a missing file exits 2 (got $rc)" \
    eval '[ "$rc" = 2 ] && grep -q "missing.handles" "$WORK/missing.err"'

# ---- the shim given the bad file directly: said, untracked, output unchanged ----
native=$("$WL/wl_userbuf" clean --iterations 3)
got=$(cd "$WORK" && IMGLEAK_OUT="$WORK/direct" IMGLEAK_HANDLES="$WORK/bad.handles" LD_PRELOAD="$SHIM" \
      "$WL/wl_userbuf" clean --iterations 3 2> "$WORK/direct.err")
check "the program's output is unchanged ($got)" [ "$got" = "$native" ]
check "the shim says the line and that the process runs untracked" \
    grep -q "bad.handles:4: .*this process runs untracked" "$WORK/direct.err"
check "no snapshot is written (untracked, not half-tracked)" [ -z "$(ls "$WORK/direct" 2>/dev/null)" ]

# ---- a good file: the handles in the report, the gate counts them ----
"$IMGLEAK" run --handles "$DECL" --format json --report "$WORK/leak.json" -- "$WL/wl_userbuf" leak --iterations 7 \
    > "$WORK/leak.out" 2> "$WORK/leak.err"
check "7 UserBuf handles from buf_new_scaled at process_request" \
    jqe '[.handles[] | select(.type == "UserBuf" and .function == "buf_new_scaled"
           and .site.function == "process_request") | .count] == [7]' "$WORK/leak.json"
check "they retain the buffers' bytes" jqe '.handles[0].retained_bytes >= 7 * 1158' "$WORK/leak.json"
check "none misused (buf_release's arg=*1, the failed buf_open, the longjmp out of buf_new_checked)" \
    jqe '.totals.misused_handles == 0' "$WORK/leak.json"
"$IMGLEAK" run --handles "$DECL" --gate --max-leaked-handles 6 --max-leaked-bytes 100000000 -- \
    "$WL/wl_userbuf" leak --iterations 7 > "$WORK/gate6.out" 2>&1
rc=$?
check "the gate fails with 7 handles over --max-leaked-handles 6 (exit $rc)" [ "$rc" = 1 ]
"$IMGLEAK" run --handles "$DECL" --gate --max-leaked-handles 7 --max-leaked-bytes 100000000 -- \
    "$WL/wl_userbuf" leak --iterations 7 > "$WORK/gate7.out" 2>&1
rc=$?
check "the gate passes with --max-leaked-handles 7 (exit $rc)" [ "$rc" = 0 ]
"$IMGLEAK" run --handles "$DECL" --gate -- "$WL/wl_userbuf" clean --iterations 7 > "$WORK/clean.out" 2>&1
rc=$?
check "the clean variant passes the gate (exit $rc)" [ "$rc" = 0 ]

# ---- a library loaded later by dlopen and reached by dlsym ----
"$IMGLEAK" run --handles "$DECL" --format json --report "$WORK/dl.json" -- "$ROOT/$B/tests/declared_dlopen" \
    "$WL/libuserbuf.so" > "$WORK/dl.out" 2> "$WORK/dl.err"
check "the dlopen host runs as natively ($(cat "$WORK/dl.out"))" [ "$(cat "$WORK/dl.out")" = 60 ]
check "its 2 kept buffers are UserBuf handles, the freed one is not" \
    jqe '[.handles[] | select(.type == "UserBuf") | .count] | add == 2' "$WORK/dl.json"
# ---- threads, and a C++ exception thrown through the hook ----
printf 'type Obj lib=libdeclared_cxx.so\ncreate Obj obj_new return\ndestroy Obj obj_free arg=1\n' > "$WORK/cxx.handles"
native=$("$ROOT/$B/tests/declared_cxx")
"$IMGLEAK" run --handles "$WORK/cxx.handles" --format json --report "$WORK/cxx.json" -- "$ROOT/$B/tests/declared_cxx" \
    > "$WORK/cxx.out" 2> "$WORK/cxx.err"
check "4 threads, 800 exceptions through the hook: output as natively ($(cat "$WORK/cxx.out"))" \
    [ "$(cat "$WORK/cxx.out")" = "$native" ] && [ "$native" = "800 3600.0" ]
check "the 3 objects kept are the only Obj handles, none misused" \
    jqe '([.handles[] | select(.type == "Obj") | .count] | add) == 3 and .totals.misused_handles == 0' "$WORK/cxx.json"

# a cached object taken twice (refcounted: the second create is a reference), then a signal
printf 'type Cached lib=libdeclared_cxx.so refcounted\ncreate Cached obj_cached return\n' > "$WORK/cached.handles"
"$IMGLEAK" run --handles "$WORK/cached.handles" --format json --report "$WORK/cached.json" -- \
    "$ROOT/$B/tests/declared_cxx" cached > "$WORK/cached.out" 2> "$WORK/cached.err"
check "a create that returns a live handle leaves the signal mask as it was ($(cat "$WORK/cached.out"))" \
    [ "$(cat "$WORK/cached.out")" = handled ]
check "... and is one handle with two references" \
    jqe '[.handles[] | select(.type == "Cached") | .count] == [1]' "$WORK/cached.json"

# ---- destroy functions that end in a tail call to close and fclose (libtiff's TIFFClose): the
# descriptor and the stream are closed by the program, though close returns into the trampoline ----
TC=$ROOT/$B/tests
check "tc_close and tc_sclose end in jumps to close and fclose (the case is exercised)" \
    eval 'objdump -d "$TC/libtailclose.so" | grep -A8 "<tc_close>:" | grep -q "jmp.*<close@plt>" &&
          objdump -d "$TC/libtailclose.so" | grep -A8 "<tc_sclose>:" | grep -q "jmp.*<fclose@plt>"'
printf '%s\n' 'type TcFile lib=libtailclose.so' 'create TcFile tc_open return path=1' 'destroy TcFile tc_close arg=1' \
    'type TcStream lib=libtailclose.so' 'create TcStream tc_sopen return path=1' \
    'destroy TcStream tc_sclose arg=1' > "$WORK/tc.handles"
# (the scan on: stdout's buffer is reachable, not leaked)
IMGLEAK_SCAN=exit "$IMGLEAK" run --handles "$WORK/tc.handles" --gate --format json --report "$WORK/tc.json" -- "$TC/tailclose" \
    > "$WORK/tc.out" 2> "$WORK/tc.err"
rc=$?
check "10 files opened and closed through tail calls: the gate passes (exit $rc; $(grep -c . "$WORK/tc.err") lines on stderr)" \
    [ "$rc" = 0 ] && [ "$(cat "$WORK/tc.out")" = 10 ]
check "... no descriptor, stream or declared handle left, none misused" \
    jqe '(.handles | length) == 0 and .totals.misused_handles == 0' "$WORK/tc.json"
"$IMGLEAK" run --handles "$WORK/tc.handles" --format json --report "$WORK/tc-keep.json" -- "$TC/tailclose" keep \
    > /dev/null 2>&1
check "one of each kept open: its TcFile and fd, its TcStream and FILE are left, the closed ones are not" \
    jqe '[.handles[] | [.type, .count]] | sort == [["FILE", 1], ["TcFile", 1], ["TcStream", 1], ["fd", 1]]' \
    "$WORK/tc-keep.json"

# ---- ONNX Runtime: its C API table, patched (libonnxruntime from npm: scripts/fetch-ort.sh) ----
if [ -f "$ROOT/$B/ort/libonnxruntime.so.1" ] || B=$B bash scripts/fetch-ort.sh > "$WORK/ort-fetch.err" 2>&1; then
    ORT=$ROOT/$B/ort/libonnxruntime.so.1
    native=$("$ROOT/$B/tests/declared_ort" "$ORT")
    "$IMGLEAK" run --format json --report "$WORK/ort.json" -- "$ROOT/$B/tests/declared_ort" "$ORT" \
        > "$WORK/ort.out" 2> "$WORK/ort.err"
    check "ONNX Runtime through the patched OrtApi: output as natively ($(cat "$WORK/ort.out"))" \
        [ "$(cat "$WORK/ort.out")" = "$native" ] && [ "$native" = "10 10 refused" ]
    # (libonnxruntime, in the build tree and so the application's, keeps one descriptor open to
    # the end: descriptors are inputs.sh's business)
    check "the 3 tensors forgotten are OrtValue handles of CreateTensorWithDataAsOrtValue; env and memory info released" \
        jqe '[.handles[] | select(.type != "fd") | [.type, .function, .site.function, .count]]
             == [["OrtValue", "OrtApi.CreateTensorWithDataAsOrtValue", "main", 3]]' "$WORK/ort.json"
    check "no OrtApi call misused (the failed create made no handle)" jqe '.totals.misused_handles == 0' "$WORK/ort.json"
else
    echo "skip ONNX Runtime: no libonnxruntime.so.1 ($(tail -1 "$WORK/ort-fetch.err"))"
fi

# ---- a real libvips program we did not write: its images all released, none misused ----
if command -v vipsthumbnail > /dev/null && command -v vips > /dev/null; then
    mkdir "$WORK/vt"
    (cd "$WORK/vt" && vips black black.v 200 150 --bands 3 && vips linear black.v in.jpg 1 100) > /dev/null
    (cd "$WORK/vt" && IMGLEAK_DEBUG=1 "$IMGLEAK" run --format json --report "$WORK/vt.json" -- \
        vipsthumbnail in.jpg -s 64 -o thumb.png > "$WORK/vt.out" 2> "$WORK/vt.err")
    check "vipsthumbnail ran and wrote its thumbnail" [ -s "$WORK/vt/thumb.png" ]
    check "the VipsImage hooks were bound to libvips (the check means something)" \
        grep -q "hooks bound to .*/libvips.so" "$WORK/vt.err"
    check "vipsthumbnail leaves no handle and misuses none" \
        jqe '(.handles | length) == 0 and .totals.misused_handles == 0' "$WORK/vt.json"
else
    bad "vipsthumbnail is not installed (scripts/deps.sh --tests: libvips-tools)"
fi
finish declared
