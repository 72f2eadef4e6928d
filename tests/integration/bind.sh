#!/usr/bin/env bash
# How the codec hooks bind (preload/hooks/bind.c, preload/hooks/audit/audit.c): programs that load and unload
# codec libraries, reach codec functions with dlsym, have functions named like a codec's, or rely
# on what glibc resolves from the caller (DT_RUNPATH, RTLD_NEXT) run exactly as natively, under
# LD_PRELOAD and under imgleak run, and their codec handles are counted. Prints "N passed, M failed".
set -u
B=${B:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
IMGLEAK=$ROOT/$B/imgleak
SHIM=$ROOT/$B/libimgleak.so
T=$ROOT/$B/tests
SRC=tests/integration
export IMGLEAK_SCAN=off
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
. "$ROOT/tests/integration/lib.sh"
line_of() { grep -nF "/* $2 */" "$SRC/$1" | head -n1 | cut -d: -f1; }

# same NAME -- CMD...: CMD's stdout and status are the same natively, with the shim in LD_PRELOAD,
# and under imgleak run (whose JSON report goes to $WORK/NAME.json)
same() {
    local name=$1; shift 2
    mkdir -p "$WORK/$name"
    timeout 300 "$@" > "$WORK/$name.native" 2> "$WORK/$name.native.err"
    local native=$?
    (cd "$WORK/$name" && IMGLEAK_OUT="$WORK/$name" LD_PRELOAD="$SHIM" timeout 300 "$@" \
        > "$WORK/$name.preload" 2> "$WORK/$name.preload.err")
    local preloaded=$?
    timeout 300 "$IMGLEAK" run --format json --report "$WORK/$name.json" -- "$@" \
        > "$WORK/$name.run" 2> "$WORK/$name.run.err"
    local run=$?
    [ $native = $preloaded ] && [ $native = $run ] ||
        { echo "     status $native natively, $preloaded under LD_PRELOAD, $run under imgleak run"; return 1; }
    local how
    for how in preload run; do
        cmp -s "$WORK/$name.native" "$WORK/$name.$how" ||
            { echo "     output differs ($how):"; diff "$WORK/$name.native" "$WORK/$name.$how" | head -5; return 1; }
    done
}
# handles_are JSON EXPECTED: the report's handles as [type, function, count, site function, line]
handles_are() {
    local got
    got=$(jq -c '[.handles[] | [.type, .function, .count, .site.function, .site.line]] | sort' "$1")
    [ "$got" = "$2" ] || { echo "     expected $2, got $got"; return 1; }
}

# preload_report NAME: the JSON report of what `same` wrote under LD_PRELOAD, in $WORK/NAME.pre.json
preload_report() { "$IMGLEAK" report --format json "$WORK/$1"/imgleak.*.snap > "$WORK/$1.pre.json"; }

# ------------------------------------------------ libraries present at start, references bound early
check "-z now, -fno-plt and a table of function pointers: same natively and under the shim" \
    same bindnow -- "$T/bindnow_png"
expected=$(jq -nc --argjson a "$(line_of bindnow_png.c 'LEAK(got)')" --argjson b "$(line_of bindnow_png.c 'LEAK(table)')" \
    '[["png_struct (read)","png_create_read_struct",1,"main",$a],["png_struct (write)","png_create_write_struct",1,"main",$b]] | sort')
check "GOT slots and data pointers bound at load are repointed (imgleak run)" handles_are "$WORK/bindnow.json" "$expected"
preload_report bindnow
check "GOT slots and data pointers bound at load are repointed (plain LD_PRELOAD)" \
    handles_are "$WORK/bindnow.pre.json" "$expected"

# ------------------------------------------------ the audit library's side effect on static TLS
check "a library with 8 KiB of initial-exec TLS still loads under imgleak run's LD_AUDIT" \
    same big_tls -- "$T/big_tls"
check "imgleak run really added the audit library (the TLS test means something)" \
    bash -c "'$IMGLEAK' run -- cat /proc/self/environ 2> /dev/null | tr '\\0' '\\n' | grep -q '^LD_AUDIT=.*libimgleak_audit.so'"
check "the program's children get LD_AUDIT and GLIBC_TUNABLES as they were" \
    test "$(GLIBC_TUNABLES=glibc.malloc.check=0 "$IMGLEAK" run -- sh -c 'echo "${LD_AUDIT-unset} $GLIBC_TUNABLES"' 2> /dev/null)" = \
         "unset glibc.malloc.check=0"

# ------------------------------------------------ a codec library unloaded and loaded again
check "dlopen/dlclose loop: 100 rounds of a plugin bringing libpng, same natively and under the shim" \
    same loop -- "$T/plugin_loop" "$T/png_plugin.so" 100
check "dlopen/dlclose loop: libpng really left with the plugin every round" \
    grep -qx "100 rounds, 100 readers made and destroyed, libpng unloaded after 100" "$WORK/loop.native"
check "dlopen/dlclose loop: the 100 readers abandoned are 100 leaked png_struct handles" \
    handles_are "$WORK/loop.json" \
    "[[\"png_struct (read)\",\"png_create_read_struct\",100,\"plugin_abandon_reader\",$(line_of png_plugin.c 'LEAK(late)')]]"
check "dlopen/dlclose loop: no destroy reported as misuse" \
    test "$(jq '.totals.misused_handles' "$WORK/loop.json")" = 0

# ------------------------------------------------ the program's own functions named like a codec's
check "an application library's own ReadImage and DestroyImage are left alone" \
    same own -- "$T/own_names"
check "an application library's own ReadImage still answers 640x480" \
    grep -q "^640x480, 1 frame(s)" "$WORK/own.native"
check "an application library's own functions make no codec handles" handles_are "$WORK/own.json" "[]"

# ------------------------------------------------ codec functions reached by dlsym
WEBP=$(ldconfig -p | awk '/libwebp\.so\.[0-9]+ .*x86-64/ {print $NF; exit}')
check "dlsym: codec functions from dlsym(handle) and dlsym(RTLD_DEFAULT) work as natively" \
    same dlsym -- "$T/dlsym_codec" "${WEBP:-libwebp.so.7}"
check "dlsym: WebPEncodeRGB from dlsym(libwebp's handle) and png_create_read_struct from RTLD_DEFAULT are tracked" \
    handles_are "$WORK/dlsym.json" \
    "$(jq -nc --argjson a "$(line_of dlsym_codec.c 'LEAK(default)')" --argjson b "$(line_of dlsym_codec.c 'LEAK(dlsym)')" \
        '[["WebP buffer","WebPEncodeRGB",1,"main",$b],["png_struct (read)","png_create_read_struct",1,"main",$a]] | sort')"
if [ -x /usr/bin/python3 ] && [ -n "$WEBP" ]; then
    "$IMGLEAK" run --format json --report "$WORK/python.json" -- /usr/bin/python3 "$ROOT/tests/torture/image_loop.py" \
        > "$WORK/python.out" 2> "$WORK/python.err"
    check "python3 ctypes: the loop ran under imgleak run" grep -q "image loop: 200 encodes, ok" "$WORK/python.out"
    check "python3 ctypes: the 20 WebPEncodeRGBA results never freed are 20 WebP buffer handles" \
        jqe '[.handles[] | select(.type == "WebP buffer" and .function == "WebPEncodeRGBA") | .count] | add == 20' \
        "$WORK/python.json"
fi

# ------------------------------------------------ what glibc resolves from the caller
check "DT_RUNPATH and RTLD_NEXT: a bare-name dlopen and dlsym(RTLD_NEXT) find what they find natively" \
    same runpath -- "$T/runpath_host"
check "DT_RUNPATH: the bare name was found natively (the test means something)" \
    grep -q "found through the caller's DT_RUNPATH" "$WORK/runpath.native"
check "the shim exports no codec function's name" \
    bash -c "! nm -D --defined-only '$SHIM' | grep -qwE 'ReadImage|DestroyImage|png_create_read_struct|WebPEncodeRGB'"

finish bind
