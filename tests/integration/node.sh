#!/usr/bin/env bash
# Node programs (issue 16): JavaScript frames named from node's perf map, copied into the
# snapshot (the report still names them once the map is gone), addons in node_modules charged to
# the JavaScript that called them, the gate on the clean and leaking workload, and what imgleak
# run adds to NODE_OPTIONS. Skipped without node (the workload's addon is built by make workloads).
set -u
B=${B:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
. tests/integration/lib.sh
IMGLEAK=$(realpath "${IMGLEAK:-$B/imgleak}") # absolute: one run starts in another directory
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
if ! command -v node > /dev/null; then
    echo "node: skipped (node is not installed)"
    exit 0
fi
export NODE_PATH=$ROOT/$B/workloads/node/node_modules
WL=$ROOT/workloads/node/wl_canvas.js

( cd "$WORK" && $IMGLEAK run --gate -o "$WORK/leak" --format json --report "$WORK/leak.json" \
      -- node "$WL" leak --iterations 4 > "$WORK/leak.out" 2>&1 )
check "leak: the gate fails" test $? = 1
check "leak: 4 cairo patterns never destroyed, created in renderTile wl_canvas.js:7" \
    jqe '[.handles[] | select(.type == "cairo_pattern_t" and .site.function == "renderTile"
          and (.site.file | endswith("wl_canvas.js")) and .site.line == 7 and .count == 4)]
         | length == 1' "$WORK/leak.json"
check "leak: the JavaScript callers follow: serve, then the module's function" \
    jqe '.handles[0].stack | map(.function) | (index("renderTile")) as $r
         | $r != null and .[$r + 1] == "serve" and .[$r + 2] == "(anonymous)"' "$WORK/leak.json"
check "leak: node wrote no isolate log into the current directory" \
    test -z "$(ls "$WORK" | grep isolate)"
pid=$(jq -r '.snapshots[0].pid' "$WORK/leak.json")
rm -f "/tmp/perf-$pid.map"
$IMGLEAK report --format json -o "$WORK/again.json" "$WORK"/leak/*.snap 2> /dev/null
check "the perf map gone, the snapshot still names renderTile (copied when it was taken)" \
    jqe '[.handles[] | select(.site.function == "renderTile")] | length == 1' "$WORK/again.json"

$IMGLEAK run --gate -- node "$WL" clean --iterations 4 > "$WORK/clean.out" 2>&1
check "clean: the gate passes" test $? = 0

NODE_OPTIONS=--max-old-space-size=64 $IMGLEAK run -- node -e \
    'console.log(process.env.NODE_OPTIONS)' > "$WORK/opts.out" 2> /dev/null
check "NODE_OPTIONS: the user's kept, the perf map flags added" \
    grep -qx -- "--max-old-space-size=64 --perf-basic-prof-only-functions --interpreted-frames-native-stack" "$WORK/opts.out"
finish node
