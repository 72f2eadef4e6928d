/* imgleak's help text (see help.h). Each part is tagged with the commands it is about; a heading
 * is printed before the first part under it that is printed. */
#include "help.h"

#include <string.h>

enum {
    H_RUN = 1, H_REPORT = 2, H_GROWTH = 4, H_GATE = 8, H_DIFF = 16, H_SUPPRESS = 32,
    H_ATTACH = 64,
    H_ALL = 127,
    H_TOP = 128, /* only in imgleak --help */
};

static const struct {
    const char *name;
    unsigned bit;
    const char *usage; /* after "Usage: "; one line, as help2man reads a synopsis */
} commands[] = {
    {"run", H_RUN,
     "imgleak run [-o DIR] [--report FILE] [--format FMT] [OPTIONS] -- CMD [ARGS...]\n"},
    {"attach", H_ATTACH,
     "imgleak attach [--duration SECS] [--interval SECS] [-o DIR] [--report FILE] [--format FMT] "
     "[OPTIONS] PID\n"},
    {"report", H_REPORT, "imgleak report [-o FILE] [--format FMT] [OPTIONS] SNAPSHOT...\n"},
    {"growth", H_GROWTH, "imgleak growth [-o FILE] [--format text|json] [OPTIONS] SNAPSHOT...\n"},
    {"gate", H_GATE, "imgleak gate [GATE OPTIONS] [OPTIONS] SNAPSHOT...|REPORT.json\n"},
    {"diff", H_DIFF, "imgleak diff [-o FILE] [--format text|json] [OPTIONS] BASE NEW\n"},
    {"suppress", H_SUPPRESS, "imgleak suppress [-o FILE] [OPTIONS] SNAPSHOT... > my.supp\n"},
};
#define NCOMMANDS (sizeof commands / sizeof *commands)

static const struct {
    unsigned commands;
    const char *heading; /* "" for none */
    const char *text;
} parts[] = {
    {H_ALL | H_TOP, "", "Finds the memory a program keeps, and the line of its own code that "
                        "allocated it.\n"},
    {H_TOP, "Commands:", ""},
    {H_RUN, "Commands:",
     "  run -- CMD ARGS      run CMD under libimgleak.so, report when it exits (on stderr, so\n"
     "                       CMD's own output stays as it was), and exit with CMD's status\n"
     "                       (with --gate: 1 when the gate fails). SIGTERM, SIGINT, SIGHUP\n"
     "                       and SIGQUIT sent to imgleak are passed on to CMD, which is first\n"
     "                       asked for a snapshot if the signal would end it; the report\n"
     "                       follows. CMD is killed if imgleak is.\n"},
    {H_ATTACH, "Commands:",
     "  attach PID           load libimgleak.so into the running process PID (ptrace, no\n"
     "                       debugger), track what it allocates from then on for --duration\n"
     "                       seconds (default: until SIGINT, SIGTERM or SIGHUP, e.g. Ctrl-C),\n"
     "                       then take a final snapshot with the reachability scan, detach\n"
     "                       (the process runs on as before) and report on standard output:\n"
     "                       what was allocated in the window and is still live, and how each\n"
     "                       site grew over the window's snapshots. If PID exits meanwhile, the\n"
     "                       report is on its exit snapshot. Refused (exit 2) for a process of\n"
     "                       another user, under ptrace restrictions, already traced, already\n"
     "                       preloaded or attached, static, or written in Go\n"},
    {H_REPORT, "Commands:",
     "  report SNAPSHOT...   report on snapshot files written earlier (for each process, its\n"
     "                       latest snapshot counts; several snapshots of one process add how\n"
     "                       each call site grew)\n"},
    {H_GROWTH, "Commands:",
     "  growth SNAPSHOT...   how each call site grew over a series of snapshots of a running\n"
     "                       process: slope (bytes/s and per snapshot), r² (how steady), first\n"
     "                       and last bytes, age of the oldest live block; sites that grow\n"
     "                       steadily to the end are leak suspects, caches that filled once not\n"},
    {H_GATE, "Commands:",
     "  gate INPUT...        exit 0 when the program's leaks are within limits, 1 when not,\n"
     "                       printing each offending site as 'file:line: N bytes in M blocks\n"
     "                       leaked (function)'; INPUT is snapshots or a JSON report\n"},
    {H_DIFF, "Commands:",
     "  diff BASE NEW        sites new, grown, shrunk and gone between two reports (each a\n"
     "                       snapshot or a JSON report), with byte and block deltas\n"},
    {H_SUPPRESS, "Commands:",
     "  suppress SNAPSHOT... one leak: rule per leak of the program (its innermost program\n"
     "                       frame's function), each after a comment naming its site and bytes,\n"
     "                       as valgrind's --gen-suppressions: given back with --suppressions,\n"
     "                       the gate passes on these leaks (lost data still fails it)\n"},
    {H_RUN | H_ATTACH, "Options:",
     "  -o DIR               run, attach: keep the snapshots in DIR (default: a temporary\n"
     "                       directory)\n"},
    {H_ATTACH, "Options:",
     "  --duration SECS      attach: how long to track (fractions allowed; default: until\n"
     "                       interrupted)\n"
     "  --interval SECS      attach: a snapshot every SECS for the growth test (default: a\n"
     "                       twentieth of --duration, at least 0.2; 10 without --duration)\n"
     "  --report FILE        attach: write the report to FILE (default: standard output)\n"},
    {H_REPORT | H_GROWTH | H_DIFF | H_SUPPRESS, "Options:",
     "  -o FILE              report, growth, diff, suppress: write to FILE (default: standard\n"
     "                       output)\n"},
    {H_RUN, "Options:",
     "  --report FILE        run: write the report to FILE (default: standard error)\n"},
    {H_RUN | H_REPORT | H_ATTACH, "Options:",
     "  --format FMT         text (default), json (docs/REPORT-JSON.md), pprof (gzipped\n"
     "                       profile.proto for go tool pprof), collapsed (stacks for\n"
     "                       flamegraph.pl, inferno, speedscope) or html (one self-contained\n"
     "                       page with a flame graph)\n"},
    {H_GROWTH | H_DIFF, "Options:", "  --format FMT         growth, diff: text (default) or json\n"},
    {H_RUN, "Options:",
     "  --allocator NAME     run: glibc (as the program is) or jemalloc, to compare RSS\n"
     "  --handles FILE       run: also track the handle types FILE declares, one per line\n"
     "                       (type NAME lib=LIB / create|destroy|ref|reset TYPE FUNCTION ...;\n"
     "                       docs/HANDLES.md); a bad line is refused with its number\n"
     "  --all-processes      run: report on every process that wrote a snapshot; by default\n"
     "                       only the program (one identity across the execs of wrappers such\n"
     "                       as pyenv's shims) and the processes it started, shells left out\n"
     "  --peak-snapshots F   run: ask for a snapshot each time the program's RSS reaches a new\n"
     "                       high-water mark: 64 MiB (or half its memory limit), then F times\n"
     "                       the last (default 2), and at 80, 90 and 95% of its cgroup's\n"
     "                       limit; an OOM kill leaves no final snapshot, and the report is\n"
     "                       then on the last of these (off: none)\n"},
    {H_ALL, "Options:",
     "  --app PATTERN        also count modules or source files matching PATTERN (a shell\n"
     "                       wildcard, on the path or its last component) as the application\n"
     "  --suppressions FILE  leak:PATTERN lines, as LeakSanitizer reads them: a stack with a\n"
     "                       frame whose function, file or module contains PATTERN ('*' any\n"
     "                       run, '^' start, '$' end) is left out of the leaks and counted as\n"
     "                       suppressed; repeatable\n"
     "  --no-default-suppressions  report the one-time allocations of the C library, the\n"
     "                       dynamic linker and the codec libraries too\n"
     "  --show-reachable     also list blocks a pointer still reaches at exit (by default only\n"
     "                       leaked, indirectly and possibly leaked ones are, as valgrind does)\n"},
    {H_RUN | H_REPORT | H_ATTACH, "Options:",
     "  --show-indirect      text: also list the sites of indirectly leaked memory (it is\n"
     "                       counted under the leak it hangs from either way)\n"
     "  --sites N            text: list at most N call sites (default 20; 0 for all)\n"
     "  --frames N           text: frames shown under each site (default 8; 0 for all)\n"
     "  --by-input           text: list the inputs (files, memory buffers, the program's\n"
     "                       imgleak_set_tag names) that leaked, each with what it leaked\n"},
    {H_RUN | H_REPORT | H_GROWTH | H_ATTACH, "Options:",
     "  --color[=WHEN]       text: colour the output: auto (default: when writing to a terminal,\n"
     "                       unless NO_COLOR is set or TERM is dumb), always (also --color\n"
     "                       alone) or never\n"},
    {H_ALL, "Options:", "  -h, --help           this help (after a command: that command's)\n"},
    {H_TOP, "Options:", "  -V, --version        imgleak's version and snapshot format version\n"},
    {H_RUN, "Gate options (gate, and run --gate):",
     "  --gate                  run: also judge the leaks as gate does\n"},
    {H_GATE | H_RUN, "Gate options (gate, and run --gate):",
     "  --max-leaked-bytes N    bytes the program may leak (default 0)\n"
     "  --max-leaked-handles N  handles it may leave undestroyed (default 0)\n"
     "  --baseline REPORT.json  count only growth beyond this earlier report, site by site\n"
     "                          (function and file, so a line shift is not growth)\n"
     "  --junit FILE            also write the verdict as JUnit XML (the Ant JUnit schema CI\n"
     "                          servers read): a case per limit and one per leak root\n"
     "  --fail-on LIST          what fails the gate, a comma list of leaked (and memory no scan\n"
     "                          classified), possible (possibly leaked), handles (never\n"
     "                          destroyed), growth (sites growing steadily over a series of\n"
     "                          snapshots); default leaked,possible,handles\n"
     "  --annotations github    also print each offending line as a GitHub Actions annotation,\n"
     "                          '::error file=PATH,line=N,title=imgleak::MESSAGE', with the gate's\n"
     "                          lines (stdout; run --gate: stderr)\n"
     "  --annotations gitlab=FILE  write the offending lines as a GitLab Code Quality report\n"
     "                          (JSON; artifacts:reports:codequality); both may be given\n"
     "  --annotations-root DIR  annotation paths are relative to DIR (default: the git top-level\n"
     "                          of the current directory, else the current directory); a source\n"
     "                          path that is relative in the debug info is taken from the current\n"
     "                          directory, one outside DIR is left as it is\n"
     "  --accept-dropped        pass although data was lost: allocations or stacks the shim's\n"
     "                          tables had no room for (IMGLEAK_MAX_LIVE, IMGLEAK_MAX_STACKS),\n"
     "                          leaked blocks with no stack to charge, snapshots the program could\n"
     "                          not write, an incomplete reachability scan; without it any of these\n"
     "                          fails the gate (exit 1), since each may hide a leak\n"},
    {H_RUN | H_REPORT | H_GATE, "Attribution:",
     "Leaks are charged to the innermost frame of the application: the executable, or any module\n"
     "outside the system library directories (/lib, /usr/lib, ...), never the C library, the\n"
     "allocator or the shim. The gate counts only those: sites with no frame of the program are\n"
     "reported, not counted. Leaks whose stack was not recorded (or was cut before any frame of\n"
     "the program) are unattributed: they fail the gate as lost data.\n"
     "\n"
     "Processes are told apart by the instance id in their snapshots (format 1.4; pid and start\n"
     "time in older ones), never by pid alone: pid 1 of two containers is two processes. A\n"
     "snapshot that cannot be read is skipped with a warning naming it and why, and the report\n"
     "counts it, unless it is the only input.\n"},
    {H_RUN | H_ATTACH, "Environment read by libimgleak.so (LD_PRELOAD it yourself, or use imgleak run):",
     "  IMGLEAK_OUT=DIR        where snapshots are written, as imgleak.<pid>.<instance>.<seq>.snap\n"
     "                         (default: the start directory; $TMPDIR or /tmp if that is /)\n"
     "  IMGLEAK_DEPTH=N        stack frames kept per allocation (default 32, 1 to 256; 128 in a\n"
     "                         Python program, whose own frames come on top of the native ones)\n"
     "  IMGLEAK_MAX_STACKS=N   distinct stacks kept (default 1048576); more are counted, not kept\n"
     "  IMGLEAK_MAX_INPUTS=N   inputs (files, buffers, imgleak_set_tag names) told apart\n"
     "                         (default 4096; 0: none); more are counted, charged to none\n"
     "  IMGLEAK_MAX_LIVE=N     live-table slots at most (default: no limit but memory)\n"
     "  IMGLEAK_SAMPLE=BYTES   record one allocation per BYTES on average (default 0: all);\n"
     "                         the report then gives unbiased estimates\n"
     "  IMGLEAK_INTERVAL=SECS  also write a snapshot every SECS seconds (fractions allowed)\n"
     "  IMGLEAK_SIGNAL=SIG     write a snapshot when the process receives SIG (default SIGUSR2;\n"
     "                         SIGUSR1, SIGUSR2 or SIGRTMIN+N only; 0 or none turns it off); the\n"
     "                         program's own handler for SIG still runs\n"
     "  IMGLEAK_KEEP=N         keep only the newest N snapshots of each process (default: all)\n"
     "  IMGLEAK_SCAN=WHEN      reachability scan: exit (default: the snapshot at exit), always\n"
     "                         (every snapshot; costs a pass over live memory), or off\n"
     "  IMGLEAK_HANDLES=FILE   handle declarations, as --handles (a bad line: untracked)\n"
     "  IMGLEAK_DEBUG=1        diagnostics on stderr\n"
     "imgleak attach hands the IMGLEAK_* variables it is given to the shim it loads, except\n"
     "IMGLEAK_OUT and IMGLEAK_INTERVAL (-o, --interval); IMGLEAK_SIGNAL and IMGLEAK_FINAL do not\n"
     "apply: no signal handler and no sentinel are added to a running process.\n"
     "imgleak run also sets, unless they are set already: PYTHONMALLOC=malloc (every Python\n"
     "object a heap block imgleak sees; the report says so), G_SLICE=always-malloc (every GLib\n"
     "slice its own malloc block, charged to its caller, as GLib 2.76 and later always do), and adds\n"
     "--perf-basic-prof-only-functions --interpreted-frames-native-stack to NODE_OPTIONS (node\n"
     "names its JavaScript functions in /tmp/perf-PID.map, which the snapshot copies). Under\n"
     "LD_PRELOAD, set them yourself.\n"},
    {H_ALL | H_TOP, "Exit status:",
     "report, growth, diff, suppress, attach: 0; gate: 0 or 1; run: the program's (1 when --gate\n"
     "fails);\n"
     "2 on bad input or a failure of imgleak, and when a skipped snapshot may have held some\n"
     "process's final state (no later snapshot of its pid was read): the report on the readable\n"
     "ones is still written.\n"},
};
#define NPARTS (sizeof parts / sizeof *parts)

void help_write_usage(FILE *out, const char *command)
{
    const char *prefix = "Usage: ";
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!command || strcmp(command, commands[i].name) == 0) {
            fprintf(out, "%s%s", prefix, commands[i].usage);
            prefix = "       ";
        }
    if (!command)
        fprintf(out, "%simgleak --help | --version\n", prefix);
}

int help_write(FILE *out, const char *command)
{
    unsigned want = H_ALL | H_TOP;
    if (command) {
        want = 0;
        for (size_t i = 0; i < NCOMMANDS; i++)
            if (strcmp(command, commands[i].name) == 0)
                want = commands[i].bit;
        if (!want)
            return -1;
    }
    help_write_usage(out, command);
    const char *heading = NULL;
    for (size_t i = 0; i < NPARTS; i++) {
        if (!(parts[i].commands & want))
            continue;
        if (!heading || strcmp(heading, parts[i].heading) != 0) {
            heading = parts[i].heading;
            /* one command's help has no list of commands to head */
            int show = *heading && (want == H_TOP || strcmp(heading, "Commands:") != 0);
            fprintf(out, "\n%s%s", show ? heading : "", show ? "\n" : "");
        }
        fputs(parts[i].text, out);
    }
    return 0;
}
