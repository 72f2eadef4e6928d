#!/usr/bin/env bash
# Python programs (issue 16): leaks charged to the script's own function and line, the Python
# frames interleaved with the native ones at each evaluator call, the interpreter and its library
# code never the call site (--app claims it), threads without the GIL, PYTHONMALLOC=malloc set by
# imgleak run and said in the report, codec functions looked up with dlsym by ctypes, and only
# the processes the user meant. Debian's CPython 3.11 (/usr/bin/python3). The workloads
# (workloads/python/) are checked against truth.json by workloads.sh.
set -u
B=${B:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
. tests/integration/lib.sh
IMGLEAK=${IMGLEAK:-$B/imgleak}
PYTHON=/usr/bin/python3
SCRIPT=tests/integration/python/callback_leak.py
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# the workloads under the gate: the leak fails it, the clean variant passes
gate_checks() {
    $IMGLEAK run --gate -- "$PYTHON" workloads/python/wl_pillow.py leak --iterations 3 > /dev/null 2>&1
    check "wl_pillow leak: the gate fails" test $? = 1
    $IMGLEAK run --gate -- "$PYTHON" workloads/python/wl_pillow.py clean --iterations 3 > /dev/null 2>&1
    check "wl_pillow clean: the gate passes" test $? = 0
    $IMGLEAK run --gate -- "$PYTHON" workloads/python/wl_ctypes_webp.py clean --iterations 3 > /dev/null 2>&1
    check "wl_ctypes_webp clean: the gate passes" test $? = 0
}

if ! "$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2> /dev/null; then
    bad "Debian's python3 is CPython 3.11" "run scripts/deps.sh --tests --install"
    gate_checks
    finish python
    exit
fi

run_json() { # run_json NAME [OPTIONS --] CMD...: the JSON report in $WORK/NAME.json
    local name=$1; shift
    $IMGLEAK run --format json --report "$WORK/$name.json" "$@" > "$WORK/$name.out" 2> "$WORK/$name.err"
}

# a WebP buffer from a function map() calls back: the handle, charged to leaf, and between leaf
# and outer the evaluator call that ran leaf
run_json callback -- "$PYTHON" "$SCRIPT" callback
check "callback: the ctypes WebPEncodeRGB output is a WebP buffer handle created in leaf" \
    jqe '[.handles[] | select(.type == "WebP buffer" and .site.function == "leaf"
          and (.site.file | endswith("callback_leak.py")) and .site.line == 21)] | length == 1' \
    "$WORK/callback.json"
check "callback: leaked at leaf callback_leak.py:21, counted as the program's" \
    jqe '[.leaks[] | select(.site.function == "leaf" and .site.line == 21 and .in_app
          and .class == "leaked")] | length == 1' "$WORK/callback.json"
check "callback: Python frames interleaved: leaf, then an evaluator call, then outer, <module>" \
    jqe '.handles[] | select(.site.function == "leaf") | [.stack[].function]
         | (index("leaf")) as $l | (index("outer")) as $o | (index("<module>")) as $m
         | $l != null and $o != null and $m != null and $l < $o and $o < $m
           and (.[$l:$o] | index("_PyEval_EvalFrameDefault")) != null
           and (.[$o:$m] | index("_PyEval_EvalFrameDefault")) == null
           and .[$m + 1] == "_PyEval_EvalFrameDefault"' "$WORK/callback.json"
check "callback: the report says the interpreter and PYTHONMALLOC=malloc set by imgleak run" \
    jqe '.snapshots[0].interpreter | (.name | test("^CPython 3\\.11\\.")) and .frames
         and .pythonmalloc == "malloc" and .pythonmalloc_set_by_run' "$WORK/callback.json"
check "callback: no frame of python3.11 is a call site" \
    jqe '[.leaks[], .handles[] | select(.site.module // "" | test("python3"))] | length == 0' \
    "$WORK/callback.json"

# made inside base64's own Python code (the standard library): charged to the user's line,
# unless --app claims the library
run_json stdlib -- "$PYTHON" "$SCRIPT" stdlib
# (what is checked is where it is charged: about one run in a hundred, a stale word somewhere in
# the interpreter's memory points into the bytes' data, and the scan, conservative as valgrind's,
# calls the block possibly leaked)
check "stdlib: the bytes leaked inside base64 are charged to keep_buffer, the script's line" \
    jqe '[.leaks[] | select((.class == "leaked" or .class == "possible")
          and .site.function == "keep_buffer" and .site.line == 29)] | length == 1' "$WORK/stdlib.json"
run_json stdlib_app --app '*/base64.py' -- "$PYTHON" "$SCRIPT" stdlib
check "stdlib, --app '*/base64.py': charged to base64's b64encode" \
    jqe '[.leaks[] | select(.class == "leaked" and .site.function == "b64encode")]
         | length == 1' "$WORK/stdlib_app.json"

run_json thread -- "$PYTHON" "$SCRIPT" thread
check "thread: the leak in a threading.Thread is charged to leaf too" \
    jqe '[.handles[] | select(.site.function == "leaf" and .count == 2)] | length == 1' \
    "$WORK/thread.json"

# the user's allocator choice stands, and the report says what it hides
PYTHONMALLOC=pymalloc $IMGLEAK run -- "$PYTHON" -c 'pass' > /dev/null 2> "$WORK/pymalloc.txt"
check "PYTHONMALLOC=pymalloc given: kept, and the report says small objects are unseen" \
    grep -q "PYTHONMALLOC=pymalloc: small objects live in pymalloc's arenas" "$WORK/pymalloc.txt"

# a version manager's shim: one process, the interpreter it execs into
run_json wrapper -- tests/integration/python/wrapper.sh "$SCRIPT" callback
# (the codec hooks of libraries dlopen'd after an exec are not bound: the leak is a heap block)
check "wrapper: one process listed, python3.11, with the leak at leaf" \
    jqe '(.snapshots | length == 1) and (.snapshots[0].exe | endswith("python3.11"))
         and ([.leaks[] | select(.site.function == "leaf" and .blocks == 2)] | length == 1)' \
    "$WORK/wrapper.json"
check "wrapper: the report says the others are not listed" \
    grep -q "other processes not listed" "$WORK/wrapper.err"
run_json wrapper_all --all-processes -- tests/integration/python/wrapper.sh "$SCRIPT" callback
check "wrapper, --all-processes: the wrapper's subshells and helpers are listed too" \
    jqe '.snapshots | length > 3' "$WORK/wrapper_all.json"

# the program's own children are listed, the shell between them is not
run_json child -- "$PYTHON" "$SCRIPT" child
check "child: the program, its python child, and the python sh -c started (not sh)" \
    jqe '[.snapshots[].exe] | (length == 3) and all(endswith("python3.11"))' "$WORK/child.json"

gate_checks

# module-level code allocating at 300 lines in a row (an import's shape): each block at its own
# line (the location table's walk goes on from where the last one stopped)
"$PYTHON" - "$WORK/lines.py" << 'PY'
import sys
rows = ["import os, signal, time"] + [f"x{i} = bytearray({100000 + i})" for i in range(300)]
rows.append("os.kill(os.getpid(), signal.SIGUSR2); time.sleep(1)")
open(sys.argv[1], "w").write("\n".join(rows) + "\n")
PY
mkdir "$WORK/lines"
$IMGLEAK run -o "$WORK/lines" -- "$PYTHON" "$WORK/lines.py" > /dev/null 2>&1
$IMGLEAK report --show-reachable --format json -o "$WORK/lines.json" "$WORK"/lines/imgleak.*.1.snap 2> /dev/null
check "300 allocating lines in a row: each one's block at its own line (the SIGUSR2 snapshot)" \
    jqe '[.leaks[] | select(.site.file // "" | endswith("lines.py")) | select(.bytes >= 100000)
          | select(.bytes < 110000) | .site.line] | sort == [range(2; 302)]' "$WORK/lines.json"

# a list that grows all along while the program runs, freed when the interpreter ends: the exit
# snapshot, taken after that, is left out of the growth series, and the list is a suspect
cat > "$WORK/grows.py" << 'PY'
import time
kept = []
def keep_buffer():
    kept.append(bytearray(200000))  # grows.py: the growing line
end = time.time() + 2.5
while time.time() < end:
    keep_buffer()
    time.sleep(0.02)
PY
line=$(grep -n "grows.py: the growing line" "$WORK/grows.py" | cut -d: -f1)
mkdir "$WORK/grows"
IMGLEAK_INTERVAL=0.3 $IMGLEAK run -o "$WORK/grows" -- "$PYTHON" "$WORK/grows.py" > /dev/null 2>&1
$IMGLEAK growth --format json -o "$WORK/grows.json" "$WORK"/grows/imgleak.*.snap 2> /dev/null
check "a Python list growing to the end is a growth suspect at its line (the exit snapshot left out)" \
    jqe --argjson l "$line" '([.growth[] | select(.suspect) | .site.line] | index($l)) != null
                             and ([.processes[] | .exit_left_out] | all)' "$WORK/grows.json"

finish python
