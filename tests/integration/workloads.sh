#!/usr/bin/env bash
# Runs every workload in both modes under the shim and holds the JSON report to
# workloads/truth.json. Each mode runs at N and 2N iterations: a leak is what grows with the
# work, so every expected site must grow by exactly its blocks per iteration (bytes within the
# stated range), no other function of the program may grow, and a clean mode grows nowhere.
# Prints "NAME: N passed, M failed" per workload. --calibrate prints what was measured instead.
# NAME arguments run only those workloads. A Go workload runs once per Go toolchain built (the
# default's in $B/workloads, the others' in $B/go1.NN: see GO_OTHER in the Makefile).
set -u
B=${B:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
TRUTH=${TRUTH:-workloads/truth.json} # another file: a subset, while working on one workload
export NODE_PATH=$ROOT/$B/workloads/node/node_modules # the Node workload's addon (Makefile)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
calibrate=0
[ "${1:-}" = --calibrate ] && calibrate=1 && shift
only=" $* "
total_failed=0

# per_function JSON: {"function|kind": [bytes, blocks]} over the program's own sites. A thread's
# DTV (glibc's _dl_allocate_tls, in pthread_create) is left out: a library's thread pool starts
# its threads when its scheduling decides (libvips: during the first request or the second), and
# the block is the loader's record of the thread, not memory the work holds.
per_function() {
    jq -c '[(.leaks + .indirect)[] | select(.in_app and
               ([.stack[]?.function // ""] | any(endswith("_dl_allocate_tls")) | not))]
           | group_by(.site.function + "|" + .kind)
           | map({key: (.[0].site.function + "|" + .[0].kind),
                  value: [(map(.bytes) | add), (map(.blocks) | add)]}) | from_entries' "$1"
}

# the command that runs a workload: its "command" (an interpreter and a script under workloads/),
# else the program built in $B/workloads
command_of() { # command_of WORKLOAD_JSON
    if jq -e 'has("command")' <<< "$1" > /dev/null; then
        jq -r '.command[]' <<< "$1" | sed "s|^workloads/|$ROOT/workloads/|"
    else
        echo "$B/workloads/$(jq -r '.program' <<< "$1")"
    fi
}

run_mode() { # run_mode MODE ITERATIONS OUT (the command in the array cmd; $handles: --handles FILE, or nothing)
    $B/imgleak run $handles --show-reachable --format json --report "$3" -- "${cmd[@]}" "$1" --iterations "$2" \
        > "$3.out" 2> "$3.err"
}

for workload in $(jq -r '.workloads[].name' "$TRUTH"); do
  [ "$only" = "  " ] || [[ "$only" == *" $workload "* ]] || continue
  w=$(jq -c --arg n "$workload" '.workloads[] | select(.name == $n)' "$TRUTH")
  program=$(jq -r '.program' <<< "$w")
  mapfile -t cmd < <(command_of "$w")
  # a workload on an interpreter the machine lacks (node outside the test dependencies) is skipped
  if [[ ${cmd[0]} != */* ]] && ! command -v "${cmd[0]}" > /dev/null; then
      echo "$workload: skipped (${cmd[0]} is not installed)"
      continue
  fi
  # a program built in $B/workloads runs again as built by every other Go toolchain, if any
  variants=("${cmd[0]}")
  if [ "${cmd[0]}" = "$B/workloads/$program" ]; then
      for other in "$B"/go1.*/"$program"; do [ -x "$other" ] && variants+=("$other"); done
  fi
  for variant in "${variants[@]}"; do
    cmd[0]=$variant
    name=$workload
    [ "$variant" = "$B/workloads/$program" ] || [[ "$variant" != "$B"/go1.* ]] ||
        name="$workload@$(basename "$(dirname "$variant")")"
    n=$(jq -r '.iterations' <<< "$w")
    processes=$(jq -r '.processes // 1' <<< "$w")
    handles=$(jq -r 'if .handles then "--handles " + .handles else "" end' <<< "$w")
    passed=0; failed=0
    pass() { passed=$((passed + 1)); }
    fail() { failed=$((failed + 1)); echo "  FAIL $name: $1"; }
    for mode in leak clean; do
        if ! run_mode "$mode" "$n" "$WORK/$name.$mode.1.json" ||
           ! run_mode "$mode" $((2 * n)) "$WORK/$name.$mode.2.json"; then
            fail "$mode: $program did not run ($(head -c 300 "$WORK/$name.$mode.1.json.err"))"
            continue
        fi
        got=$(jq '.snapshots | length' "$WORK/$name.$mode.2.json")
        [ "$got" = "$processes" ] && pass || fail "$mode: $got snapshots, expected $processes"
        a=$(per_function "$WORK/$name.$mode.1.json")
        b=$(per_function "$WORK/$name.$mode.2.json")
        # growth per function between N and 2N iterations: [bytes, blocks]
        growth=$(jq -cn --argjson a "$a" --argjson b "$b" \
            '$b | to_entries | map({key, value: [(.value[0] - ($a[.key][0] // 0)),
                                                   (.value[1] - ($a[.key][1] // 0))]}) | from_entries')
        if [ $calibrate = 1 ]; then
            echo "$name $mode: growth over $n iterations: $growth"
            echo "$name $mode: handles: $(jq -c '[.handles[] | [.type, .site.function, .count]]' "$WORK/$name.$mode.1.json")"
            continue
        fi
        expected=$(jq -c --arg m "$mode" '.[$m] // []' <<< "$w")
        # heap_loose: functions whose growth is not held to the truth (heap_why says why)
        growth=$(jq -c --argjson l "$(jq -c '.heap_loose // []' <<< "$w")" \
            'with_entries(select((.key | split("|")[0]) as $f | $l | index($f) | not))' <<< "$growth")
        while read -r e; do
            key=$(jq -r '.function + "|" + .kind' <<< "$e")
            blocks=$(jq -r '.blocks_per_iteration' <<< "$e")
            lo=$(jq -r '.bytes_per_iteration[0]' <<< "$e")
            hi=$(jq -r '.bytes_per_iteration[1]' <<< "$e")
            gb=$(jq -r --arg k "$key" '.[$k][0] // 0' <<< "$growth")
            gn=$(jq -r --arg k "$key" '.[$k][1] // 0' <<< "$growth")
            total=$(jq -r --arg k "$key" '.[$k][1] // 0' <<< "$a")
            if [ "$gn" = $((blocks * n)) ] && [ "$total" -ge $((blocks * n)) ]; then pass
            else fail "$mode: $key grew by $gn blocks over $n iterations, expected $((blocks * n))"; fi
            if [ "$gb" -ge $((lo * n)) ] && [ "$gb" -le $((hi * n)) ]; then pass
            else fail "$mode: $key grew by $gb bytes over $n iterations, expected $((lo * n))..$((hi * n))"; fi
        done < <(jq -c '.[] | {function, kind, blocks_per_iteration, bytes_per_iteration}' <<< "$expected")
        # nothing else of the program's own may grow
        others=$(jq -c --argjson e "$expected" \
            'to_entries | map(select(.value[1] != 0 and
               ((.key) as $k | $e | map(.function + "|" + .kind) | index($k) | not)))
             | map(.key)' <<< "$growth")
        [ "$others" = "[]" ] && pass || fail "$mode: unexpected growing sites $others"
        # codec handles: exactly these never destroyed, none misused
        for k in 1 2; do
            iters=$((n * k))
            want=$(jq -c --arg m "$mode" --argjson i "$iters" \
                'if $m == "leak" then .handles_leak else [] end
                 | map({key: (.type + "|" + .function), value: (.per_iteration * $i)}) | from_entries' <<< "$w")
            got=$(jq -c '[.handles[] | {key: (.type + "|" + .site.function), value: .count}]
                 | group_by(.key) | map({key: .[0].key, value: (map(.value) | add)}) | from_entries' \
                "$WORK/$name.$mode.$k.json")
            [ "$(jq -S . <<< "$want")" = "$(jq -S . <<< "$got")" ] && pass ||
                fail "$mode: handles after $iters iterations: $got, expected $want"
            misused=$(jq '.totals.misused_handles' "$WORK/$name.$mode.$k.json")
            [ "$misused" = 0 ] && pass || fail "$mode: $misused handles misused"
        done
    done
    [ $calibrate = 1 ] && continue
    echo "$name: $passed passed, $failed failed"
    total_failed=$((total_failed + failed))
  done
done
[ $total_failed = 0 ]
