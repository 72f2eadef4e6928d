#!/usr/bin/env bash
# The reachability scan: blocks kept by a global, a library's static, a blocked thread's stack or
# another reachable block are reachable; a block whose last pointer was overwritten is leaked; a
# chain hanging from a leaked block is indirect under it; a cycle gets one root; interior-only is
# possible. Clean workloads and programs that only start and stop a library leak nothing of the
# program's own. Prints "N passed, M failed".
set -u
B=${B:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
IMGLEAK=$B/imgleak
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
. "$ROOT/tests/integration/lib.sh"

# class_of JSON FUNCTION: the class of the program's site in FUNCTION ("none" when absent), among
# the entries and the indirect sites
class_of() {
    jq -r --arg f "$2" '[(.leaks + .indirect)[] | select(.in_app and .site.function == $f) | .class]
                        | if length == 0 then "none" else join(",") end' "$1"
}
is_class() { # is_class JSON FUNCTION CLASS
    local got
    got=$(class_of "$1" "$2")
    [ "$got" = "$3" ] || { echo "     $2: $got, expected $3"; return 1; }
}

$IMGLEAK run --show-reachable --format json --report "$WORK/all.json" -- $B/tests/reach > /dev/null
check "reach: exits 0 under the shim" test $? = 0
for f in keep_in_global keep_in_child keep_in_library keep_on_thread keep_on_quiet_thread; do
    check "reach: $f is reachable" is_class "$WORK/all.json" $f reachable
done
# the exit snapshot comes after every library's destructor (valgrind's check does too)
check "reach: a block a library's destructor frees is not in the exit snapshot" \
    is_class "$WORK/all.json" free_in_library_destructor none
check "reach: ... nor the box it frees, but what only that box pointed to is leaked" \
    eval 'is_class "$WORK/all.json" make_box none && is_class "$WORK/all.json" lose_in_library_destructor leaked'
check "reach: a block whose pointer was overwritten is leaked" \
    is_class "$WORK/all.json" lose_overwritten leaked
check "reach: the head of a lost chain is leaked" is_class "$WORK/all.json" lose_chain_root leaked
check "reach: the chain's other blocks are indirect" \
    bash -c "[ \"$(class_of "$WORK/all.json" lose_chain_mid)$(class_of "$WORK/all.json" lose_chain_tail)\" = indirectindirect ]"
check "reach: the chain's blocks are counted under its head" \
    jqe '([.indirect[] | select(.site.function == "lose_chain_mid" or .site.function == "lose_chain_tail")
          | .bytes] | add) as $hanging
         | [.leaks[] | select(.site.function == "lose_chain_root")][0]
         | .indirect_blocks == 2 and .indirect_bytes == $hanging' "$WORK/all.json"
check "reach: a cycle nothing points to: one leaked, one indirect under it" \
    bash -c "[ \"$(class_of "$WORK/all.json" lose_cycle_a)/$(class_of "$WORK/all.json" lose_cycle_b)\" = leaked/indirect ]"
check "reach: only a pointer into its middle: possibly leaked" \
    is_class "$WORK/all.json" keep_interior possible
check "reach: only a pointer into its last 8 bytes, 8 past a 16-byte boundary: possibly leaked" \
    is_class "$WORK/all.json" keep_last_word possible
$IMGLEAK run --format json --report "$WORK/top.json" -- $B/tests/reach top > /dev/null 2>&1
check "reach: the block before glibc's top chunk, which the arena points into, is leaked (not possible)" \
    is_class "$WORK/top.json" top leaked
check "reach: a pointer past a new[] element count is a start pointer (valgrind's heuristic)" \
    is_class "$WORK/all.json" keep_array_elements reachable
check "reach: a pointer to a std::string's characters is a start pointer (valgrind's heuristic)" \
    is_class "$WORK/all.json" keep_string_chars reachable
check "reach: totals by class add up to the sites" \
    jqe '(.totals.by_class.leaked.bytes == ([.leaks[] | select(.class == "leaked") | .bytes] | add)) and
         (.totals.by_class.indirect.bytes == ([.indirect[] | .bytes] | add)) and
         (.totals.by_class.possible.bytes == ([.leaks[] | select(.class == "possible") | .bytes] | add))' \
    "$WORK/all.json"
check "reach: the numbers valgrind gives (definitely 412 B in 4, indirectly 344 B in 3)" \
    jqe '.totals.by_class.leaked == {"bytes": 412, "blocks": 4} and
         .totals.by_class.indirect == {"bytes": 344, "blocks": 3}' "$WORK/all.json"

$IMGLEAK run --show-reachable --format json --report "$WORK/churn.json" -- $B/tests/reach churn > /dev/null
check "reach: after 65,536 threads allocated, a blocked thread's stack is still a root" \
    bash -c "[ \"$(class_of "$WORK/churn.json" keep_on_thread)/$(class_of "$WORK/churn.json" keep_on_quiet_thread)\" = reachable/reachable ]"

$IMGLEAK run --show-reachable --format json --report "$WORK/busy.json" -- $B/tests/reach busy > /dev/null
check "reach: a running thread that never allocated: its stack is still a root" \
    is_class "$WORK/busy.json" keep_on_busy_thread reachable

$IMGLEAK run --show-reachable --format json --report "$WORK/own.json" -- $B/tests/reach ownstack > /dev/null
check "reach: a thread on a stack the program allocated: what it holds there is reachable" \
    is_class "$WORK/own.json" keep_on_own_stack reachable
check "reach: ... and the heap past that stack's block is not read as stack (leaked/indirect)" \
    bash -c "[ \"$(class_of "$WORK/own.json" lose_holder)/$(class_of "$WORK/own.json" lose_above_stack)\" = leaked/indirect ]"

# every thread's static TLS is a root (libgomp keeps a thread's pool there): in the sentinel's
# final snapshot, after exit_group ended every thread, and for the main thread's TLS, which is not
# on its stack, when another thread calls exit
$IMGLEAK run --show-reachable --format json --report "$WORK/tls_exit.json" -- $B/tests/reach tls_exit > /dev/null
check "reach: after _exit (the sentinel), a block in a thread's __thread variable is reachable" \
    is_class "$WORK/tls_exit.json" keep_in_thread_tls reachable
check "reach: ... and the block that variable held before is leaked" \
    is_class "$WORK/tls_exit.json" lose_tls_overwritten leaked
$IMGLEAK run --show-reachable --format json --report "$WORK/tls_main.json" -- $B/tests/reach tls_main > /dev/null
check "reach: another thread calls exit: a block in main's __thread variable is reachable" \
    is_class "$WORK/tls_main.json" keep_in_main_tls reachable

$IMGLEAK run --format json --report "$WORK/default.json" -- $B/tests/reach > /dev/null
check "reach: reachable sites are not listed by default" \
    test "$(jq '[.leaks[] | select(.class == "reachable")] | length' "$WORK/default.json")" = 0
check "reach: ... nor counted as leaked" \
    jqe '.totals.leaked_bytes == .totals.by_class.leaked.bytes + .totals.by_class.indirect.bytes
                                 + .totals.by_class.possible.bytes' "$WORK/default.json"
$IMGLEAK run -- $B/tests/reach 2> "$WORK/text.txt" > /dev/null
check "reach: the text report gives each class" \
    grep -q "definitely 412 B, indirectly 344 B, possibly 384 B; still reachable" "$WORK/text.txt"
check "reach: ... and what hangs from a leak, under it" \
    grep -q "leaked at lose_chain_root .*, and 216 B in 2 blocks hanging from them" "$WORK/text.txt"
check "reach: the gate counts leaked, indirect and possible, not reachable" \
    bash -c "$IMGLEAK gate --max-leaked-bytes 1140 '$WORK/default.json' > /dev/null && \
             ! $IMGLEAK gate --max-leaked-bytes 1139 '$WORK/default.json' > /dev/null"

$IMGLEAK run --show-reachable --format json --report "$WORK/prot.json" -- $B/tests/protected > "$WORK/prot.out"
check "a PROT_NONE heap page: the program exits as without the shim" \
    bash -c "[ $? = 0 ] && grep -q 'protected done' '$WORK/prot.out'"
check "a PROT_NONE heap page: still scanned around (page reachable, lost block leaked)" \
    bash -c "[ \"$(class_of "$WORK/prot.json" guard_page)/$(class_of "$WORK/prot.json" lose_block)\" = reachable/leaked ]"

IMGLEAK_SCAN=off $IMGLEAK run --format json --report "$WORK/off.json" -- $B/tests/reach > /dev/null
check "IMGLEAK_SCAN=off: nothing is classified" \
    jqe '(.totals.scanned | not) and ([.leaks[].class] | unique == ["unscanned"])' "$WORK/off.json"

# ------------------------------------------------ the dynamic linker's own blocks are roots
# A dlopen'ed module's __thread variables live in blocks ld.so mallocs per thread, reached only
# through the thread's DTV (itself malloc'd, pointed to one word past its start); threads that
# ended leave theirs in glibc's stack cache. None of it is the program's leak.
$IMGLEAK run --format json --report "$WORK/tls.json" -- $B/tests/tls_host $B/tests/tls_plugin.so > "$WORK/tls.out"
check "dynamic TLS of a dlopen'ed module and the threads' DTVs are not leaks" \
    bash -c "grep -q 'tls done' '$WORK/tls.out' && jq -e '.totals.leaked_bytes == 0' '$WORK/tls.json' > /dev/null"

# ------------------------------------------------ nothing of the program's own in clean programs
for w in jpeg png gif webp magick cairo mixed; do
    $IMGLEAK run --format json --report "$WORK/$w.json" -- $B/workloads/wl_$w clean > /dev/null 2>&1
    check "clean $w: no leaked bytes at all" jqe '.totals.leaked_bytes == 0' "$WORK/$w.json"
done
for m in magick cairo fontconfig; do
    $IMGLEAK run --format json --report "$WORK/init-$m.json" -- $B/tests/init_only $m > /dev/null
    check "start and stop $m only: no leaked bytes" jqe '.totals.leaked_bytes == 0' "$WORK/init-$m.json"
done

finish reach
