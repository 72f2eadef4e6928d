# Shared by the integration scripts: counting checks and printing them. Source it, call check,
# and end with finish.
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && echo "     $2"; }
check() { # check DESCRIPTION COMMAND...: passes when COMMAND succeeds
    local desc=$1; shift
    if "$@"; then ok "$desc"; else bad "$desc"; fi
}
# jqe FILTER FILE: the filter is true (jq -e alone passes on an empty file: a missing report
# must fail the check, not pass it)
jqe() { local r; r=$(jq -e "$@") && [ -n "$r" ]; }
finish() { # finish [LABEL]: the tally, and the script's status
    echo "${1:+$1: }$passed passed, $failed failed"
    [ "$failed" = 0 ]
}
