#!/usr/bin/env bash
# The tool as installed and as used from a shell: make install/uninstall into a temporary prefix
# and the installed imgleak run on a program; the man page; completion; the Debian package and
# lintian; --version, per-command --help, option errors, --color; imgleak run passing signals on
# and not leaving the program behind. Prints "N passed, M failed".
set -u
B=${B:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
IMGLEAK=$ROOT/$B/imgleak
SIGLOOP=$ROOT/$B/tests/sigloop
WORK=$(mktemp -d)
PROG_PID=
cleanup() {
    [ -n "$PROG_PID" ] && kill -KILL "$PROG_PID" 2> /dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
. "$ROOT/tests/integration/lib.sh"
export IMGLEAK_SCAN=off
line_of() { grep -nF "/* $2 */" "tests/integration/$1" | head -n1 | cut -d: -f1; }

# ------------------------------------------------------------------ make install / uninstall
STAGE=$WORK/stage
PREFIX=/opt/imgleak-test
make --no-print-directory -s install B="$B" DESTDIR="$STAGE" PREFIX="$PREFIX" > "$WORK/install.log" 2>&1
check "install: make install DESTDIR PREFIX succeeds" test $? = 0
INST=$STAGE$PREFIX
for f in bin/imgleak lib/imgleak/libimgleak.so lib/imgleak/libimgleak_audit.so share/man/man1/imgleak.1 \
    share/bash-completion/completions/imgleak share/zsh/site-functions/_imgleak; do
    check "install: $f is installed" test -s "$INST/$f"
done
check "install: imgleak is executable, the shim and page are not" \
    test -x "$INST/bin/imgleak" -a ! -x "$INST/lib/imgleak/libimgleak.so" -a ! -x "$INST/share/man/man1/imgleak.1"
# The installed imgleak, from a directory where the build tree's shim is not beside it: the
# program's own maps show which libimgleak.so it was given.
(cd "$WORK" && "$INST/bin/imgleak" run --report "$WORK/inst.txt" -- \
    grep -m1 libimgleak.so /proc/self/maps > "$WORK/maps.txt" 2> "$WORK/inst.err")
check "install: the installed imgleak run preloads the installed shim" \
    grep -qF "$INST/lib/imgleak/libimgleak.so" "$WORK/maps.txt"
(cd "$WORK" && "$INST/bin/imgleak" run --report "$WORK/inst2.txt" -- \
    grep -m1 libimgleak_audit.so /proc/self/maps > "$WORK/audit.txt" 2> /dev/null)
check "install: ... with the installed audit library (codec hooks in libraries loaded later)" \
    grep -qF "$INST/lib/imgleak/libimgleak_audit.so" "$WORK/audit.txt"
"$INST/bin/imgleak" run --format json --report "$WORK/inst.json" -- "$ROOT/$B/tests/leaky" leak 2> /dev/null
check "install: the installed imgleak reports leaky's leak at its line" \
    jqe --argjson l "$(line_of leaky.c 'LEAK(direct)')" \
    '[.leaks[] | select(.site.function == "load_config" and .site.line == $l)] | length == 1' \
    "$WORK/inst.json"
# The program API: a program built against the installed header through pkg-config, run without
# the shim (unchanged: the weak symbols are absent) and under the installed imgleak (its tag names
# the input that leaked, and its snapshot is written)
for f in include/imgleak.h lib/pkgconfig/imgleak.pc; do
    check "install: $f is installed" test -s "$INST/$f"
done
API_CFLAGS=$(echo $(PKG_CONFIG_PATH=$INST/lib/pkgconfig pkg-config --define-variable=prefix="$INST" --cflags imgleak 2> "$WORK/pc.err"))
check "install: pkg-config --cflags imgleak names the installed include directory" \
    test "$API_CFLAGS" = "-I$INST/include"
cc -Wall -Wextra -Werror $API_CFLAGS tests/integration/api_user.c -o "$WORK/api_user" 2> "$WORK/api_cc.err"
check "api: a program builds against the installed imgleak.h alone" test -x "$WORK/api_user"
check "api: it runs unchanged without imgleak" \
    bash -c 'test "$("$1")" = "api absent, snapshot failed"' _ "$WORK/api_user"
(cd "$WORK" && "$INST/bin/imgleak" run -o "$WORK/api_snaps" --format json --report "$WORK/api.json" -- \
    "$WORK/api_user" > "$WORK/api.out" 2> /dev/null)
check "api: under imgleak the API is there and imgleak_snapshot writes a snapshot" \
    bash -c 'grep -qx "api present, snapshot written" "$1" && test "$(ls "$2" | wc -l)" -ge 2' \
    _ "$WORK/api.out" "$WORK/api_snaps"
IMGLEAK_SCAN=exit "$INST/bin/imgleak" run --format json --report "$WORK/api2.json" -- "$WORK/api_user" > /dev/null 2>&1
check "api: the leak is charged to the tagged request alone" \
    jqe '[.leaks[] | select(.site.function == "handle_request") | .inputs[].name] == ["request-42"]
         and .totals.inputs_seen == 3' "$WORK/api2.json"
make --no-print-directory -s uninstall B="$B" DESTDIR="$STAGE" PREFIX="$PREFIX" > /dev/null 2>&1
check "uninstall: no file is left" test -z "$(find "$STAGE" -type f)"
check "uninstall: lib/imgleak is removed" test ! -e "$INST/lib/imgleak"

# ------------------------------------------------------------------ the man page
make --no-print-directory -s "$B/imgleak.1" B="$B" > /dev/null 2>&1
MANWIDTH=100 man -l "$B/imgleak.1" > "$WORK/man.txt" 2> "$WORK/man.err"
check "man: man -l renders the page without warnings" test $? = 0 -a ! -s "$WORK/man.err"
check "man: it has the synopsis and every command" \
    bash -c 'grep -q "^SYNOPSIS" "$1" && for c in run report growth gate diff; do
        grep -q "^       $c " "$1" || exit 1; done' _ "$WORK/man.txt"
check "man: it documents every option --help does" bash -c '
    for o in $("$1" --help | grep -o "^ \{1,3\}-[-a-zA-Z]*" | sort -u); do
        grep -q -- "$o" "$2" || { echo "     $o missing"; exit 1; }; done' _ "$IMGLEAK" "$WORK/man.txt"

# ------------------------------------------------------------------ completion
complete_words() { # complete_words WORD...: what bash completion offers for the last word
    PATH=$ROOT/$B:$PATH bash -c '. completions/imgleak.bash; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
        _imgleak; printf "%s\n" "${COMPREPLY[@]}"' _ "$@"
}
check "bash completion: commands" test "$(complete_words imgleak re)" = report
check "bash completion: a command's options, from its --help" \
    test "$(complete_words imgleak report --co)" = --color
check "bash completion: gate does not offer report's options" \
    test -z "$(complete_words imgleak gate --si)"
check "bash completion: --format values" test "$(complete_words imgleak report --format j)" = json
check "zsh completion: the script parses" zsh -n completions/_imgleak

# ------------------------------------------------------------------ the Debian package
make --no-print-directory -s deb B="$B" > "$WORK/deb.log" 2>&1
DEB=$(ls "$B"/imgleak_*.deb 2> /dev/null | head -n1)
check "deb: make deb builds a package" test -n "$DEB" -a -s "$DEB"
if command -v lintian > /dev/null && [ -n "$DEB" ]; then
    lintian "$DEB" > "$WORK/lintian.txt" 2>&1
    check "deb: lintian reports no errors" bash -c '! grep "^E:" "$1"' _ "$WORK/lintian.txt" ||
        cat "$WORK/lintian.txt"
else
    bad "deb: lintian reports no errors" "lintian is not installed (scripts/deps.sh --tests)"
fi
mkdir -p "$WORK/debroot"
[ -n "$DEB" ] && dpkg-deb -x "$DEB" "$WORK/debroot"
check "deb: the packaged imgleak runs a program under the packaged shim" bash -c '
    cd "$1" && "$1/usr/bin/imgleak" run -- grep -m1 libimgleak.so /proc/self/maps 2> /dev/null |
        grep -qF "$1/usr/lib/imgleak/libimgleak.so"' _ "$WORK/debroot"
check "deb: the version matches imgleak --version and the changelog" bash -c '
    v=$(dpkg-deb -f "$1" Version); "$2" --version | grep -q "^imgleak $v " &&
        head -n1 packaging/deb/changelog | grep -qF "($v)"' _ "$DEB" "$IMGLEAK"
if [ "$(id -u)" = 0 ] && [ -n "$DEB" ]; then
    check "deb: dpkg would install it (dependencies met)" dpkg --dry-run -i "$DEB" > /dev/null
fi

# ------------------------------------------------------------------ --version, --help, errors
check "--version names the version" bash -c '"$1" --version | grep -q "^imgleak [0-9]"' _ "$IMGLEAK"
check "-V is --version" bash -c 'test "$("$1" -V)" = "$("$1" --version)"' _ "$IMGLEAK"
for cmd in run report growth gate diff; do
    "$IMGLEAK" "$cmd" --help > "$WORK/help.$cmd" 2>&1
    check "$cmd --help: exit 0, its own usage line only" \
        bash -c 'test "$(grep -c "imgleak [a-z]* \[" "$1")" = 1 && grep -q "^Usage: imgleak $2 " "$1"' \
        _ "$WORK/help.$cmd" "$cmd"
done
check "report --help: its options, not gate's or run's" bash -c '
    grep -q -- "--sites" "$1" && ! grep -q -- "--max-leaked-bytes" "$1" && ! grep -q -- "--allocator" "$1"' \
    _ "$WORK/help.report"
check "gate --help: the gate options, not --format" bash -c '
    grep -q -- "--max-leaked-bytes" "$1" && ! grep -q -- "--format" "$1"' _ "$WORK/help.gate"
check "imgleak help gate is gate --help" bash -c 'test "$("$1" help gate)" = "$(cat "$2")"' _ "$IMGLEAK" "$WORK/help.gate"
"$IMGLEAK" report --bogus x > /dev/null 2> "$WORK/err1"
check "unknown option: exit 2" test $? = 2
check "unknown option: names it and report's valid options" \
    grep -q "unknown option '--bogus' (report takes -o, --format, .*--sites, --frames, --color, --help)" "$WORK/err1"
"$IMGLEAK" gate --format json x > /dev/null 2> "$WORK/err2"
check "an option the command does not take: names gate's valid ones" \
    grep -q "gate does not take --format (gate takes .*--max-leaked-bytes" "$WORK/err2"

# ------------------------------------------------------------------ --color
"$IMGLEAK" run -o "$WORK/snaps" -- "$ROOT/$B/tests/leaky" leak 2> /dev/null
SNAP=$(ls "$WORK"/snaps/imgleak.*.snap | head -n1)
esc=$(printf '\033[')
has_color() { grep -qF "$esc" "$1"; }
"$IMGLEAK" report --color=always "$SNAP" > "$WORK/c.always"
check "--color=always colours a file" has_color "$WORK/c.always"
"$IMGLEAK" report --color "$SNAP" > "$WORK/c.bare"
check "--color alone is always" has_color "$WORK/c.bare"
"$IMGLEAK" report "$SNAP" > "$WORK/c.auto"
check "--color=auto (default): no colour into a file" bash -c '! grep -qF "$2" "$1"' _ "$WORK/c.auto" "$esc"
on_tty() { # on_tty OUT ENV...: imgleak report on a pseudo-terminal (script), its output in OUT
    local out=$1; shift
    env "$@" script -qec "$IMGLEAK report $SNAP" /dev/null > "$out" 2>&1
}
on_tty "$WORK/t.xterm" TERM=xterm NO_COLOR=
check "--color=auto: colour on a terminal" has_color "$WORK/t.xterm"
on_tty "$WORK/t.dumb" TERM=dumb NO_COLOR=
check "--color=auto: none when TERM=dumb" bash -c '! grep -qF "$2" "$1"' _ "$WORK/t.dumb" "$esc"
on_tty "$WORK/t.nocolor" TERM=xterm NO_COLOR=1
check "--color=auto: none when NO_COLOR is set" bash -c '! grep -qF "$2" "$1"' _ "$WORK/t.nocolor" "$esc"
env TERM=xterm script -qec "$IMGLEAK report --color=never $SNAP" /dev/null > "$WORK/t.never" 2>&1
check "--color=never: none on a terminal" bash -c '! grep -qF "$2" "$1"' _ "$WORK/t.never" "$esc"
"$IMGLEAK" report --color=sometimes "$SNAP" > /dev/null 2> "$WORK/c.err"
check "--color=WHEN: a bad WHEN is a usage error" grep -q "color takes auto, always or never" "$WORK/c.err"

# ------------------------------------------------------------------ signals
wait_ready() { # wait_ready FILE: until the program wrote its pid (bounded: 30 s)
    local i
    for ((i = 0; i < 300; i++)); do
        [ -s "$1" ] && { PROG_PID=$(cat "$1"); return 0; }
        sleep 0.1
    done
    return 1
}
gone() { # gone PID: not running (absent, or a zombie nobody reaped yet), waiting up to 30 s
    local i
    for ((i = 0; i < 300; i++)); do
        [ -e "/proc/$1" ] || return 0
        grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2> /dev/null && return 0
        sleep 0.1
    done
    return 1
}
LOOP_LINE=$(line_of sigloop.c 'LEAK(loop)')
# signal_run SIG MODE: imgleak run on sigloop MODE, sent SIG once the program is ready; sets
# RUN_STATUS and leaves the report in $WORK/sig.txt
signal_run() {
    rm -f "$WORK/ready" "$WORK/sig.txt"
    PROG_PID=
    # a background job of a script starts with SIGINT and SIGQUIT ignored, which imgleak and
    # the program would rightly keep: give it the dispositions an interactive command has
    env --default-signal "$IMGLEAK" run --report "$WORK/sig.txt" -- "$SIGLOOP" "$2" "$WORK/ready" \
        2> "$WORK/sig.err" &
    local run_pid=$! i
    wait_ready "$WORK/ready" && kill -"$1" "$run_pid"
    # bounded: a signal that is not passed on must fail the test, not hang it
    for ((i = 0; i < 300; i++)); do
        kill -0 "$run_pid" 2> /dev/null || break
        sleep 0.1
    done
    kill -KILL "$run_pid" 2> /dev/null
    wait "$run_pid"
    RUN_STATUS=$?
}
for sig in TERM INT HUP QUIT; do
    signal_run "$sig" catch
    check "run: SIG$sig to imgleak reaches the program, which exits 0; imgleak reports" \
        bash -c 'test "$1" = 0 && grep -q "at main tests/integration/sigloop.c:$2" "$3"' \
        _ "$RUN_STATUS" "$LOOP_LINE" "$WORK/sig.txt"
done
signal_run TERM default
check "run: a program SIGTERM ends is asked for a snapshot first; reported, exit 143" \
    bash -c 'test "$1" = 143 && grep -q "at main tests/integration/sigloop.c:$2" "$3"' \
    _ "$RUN_STATUS" "$LOOP_LINE" "$WORK/sig.txt"
check "run: ... and the program is gone" gone "$PROG_PID"
# a program that blocks every signal and reads them from a signalfd: SIGTERM reaches it at once,
# and no snapshot signal before it (it would read a SIGUSR2 it never gets natively)
rm -f "$WORK/ready"
env --default-signal "$IMGLEAK" run --report "$WORK/sfd.txt" -- "$SIGLOOP" signalfd "$WORK/ready" \
    > "$WORK/sfd.out" 2> /dev/null &
RUN_PID=$!
wait_ready "$WORK/ready" && kill -TERM "$RUN_PID"
SECONDS=0
wait "$RUN_PID"
RUN_STATUS=$?
check "run: a program reading signals from a signalfd gets SIGTERM alone, at once ($(tr '\n' ' ' < "$WORK/sfd.out"), exit $RUN_STATUS, ${SECONDS} s)" \
    bash -c 'test "$1" = 0 && test "$(cat "$2")" = "got Terminated" && test "$3" -lt 4' \
    _ "$RUN_STATUS" "$WORK/sfd.out" "$SECONDS"
# timeout, when its time is up or when it is itself signalled, signals imgleak and then its whole
# process group, the program included; signalling timeout once the program is ready does the
# same without racing a fixed time against a loaded machine
rm -f "$WORK/ready"
timeout -s TERM 120 "$IMGLEAK" run --report "$WORK/timeout.txt" -- "$SIGLOOP" catch "$WORK/ready" \
    2> /dev/null &
TIMEOUT_PID=$!
wait_ready "$WORK/ready" && kill -TERM "$TIMEOUT_PID"
wait "$TIMEOUT_PID"
check "run: under timeout -s TERM, the report is written" \
    grep -q "at main tests/integration/sigloop.c:$LOOP_LINE" "$WORK/timeout.txt"
# A stop that arrives once the program has ended (timeout's signal to the process group can come
# after the program already died of the one imgleak passed on) does not cost the report: with
# the report going to a FIFO, imgleak waits in open() after the program ended.
mkfifo "$WORK/fifo"
"$IMGLEAK" run --report "$WORK/fifo" -- "$ROOT/$B/tests/leaky" leak 2> /dev/null &
RUN_PID=$!
for ((i = 0; i < 300; i++)); do
    [ "$(cat "/proc/$RUN_PID/wchan" 2> /dev/null)" = wait_for_partner ] && break # open() of a FIFO
    sleep 0.1
done
kill -TERM "$RUN_PID"
timeout 60 cat "$WORK/fifo" > "$WORK/late.txt"
wait "$RUN_PID"
check "run: a SIGTERM after the program ended does not stop the report" \
    bash -c 'test "$1" = 0 && grep -q "at load_config tests/integration/leaky.c" "$2"' _ $? "$WORK/late.txt"
rm -f "$WORK/ready"
"$IMGLEAK" run -- "$SIGLOOP" default "$WORK/ready" 2> /dev/null &
RUN_PID=$!
wait_ready "$WORK/ready" && kill -KILL "$RUN_PID"
{ wait "$RUN_PID"; } 2> /dev/null
check "run: SIGKILL to imgleak kills the program too" gone "$PROG_PID"

finish package
