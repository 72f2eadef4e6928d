/* The shared command line (see cli.h). */
#include "cli.h"

#include "error.h"
#include "peaks.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_u64(const char *text, uint64_t *out)
{
    char *end;
    if (text[0] < '0' || text[0] > '9') /* strtoull would take " 1", "+1" and "-1" (as 2^64-1) */
        return -1;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (*end || errno == ERANGE)
        return -1;
    *out = v;
    return 0;
}

static int push(const char ***list, size_t *n, const char *item)
{
    const char **grown = realloc(*list, (*n + 1) * sizeof *grown);
    if (!grown)
        return error_set("out of memory"), -1;
    *list = grown;
    grown[(*n)++] = item;
    return 0;
}

/* --fail-on leaked,possible,handles,growth: the list replaces the default. */
static int parse_fail_on(const char *list, unsigned *out)
{
    static const struct {
        const char *name;
        unsigned bit;
    } kinds[] = {{"leaked", CLI_FAIL_LEAKED}, {"possible", CLI_FAIL_POSSIBLE},
                 {"handles", CLI_FAIL_HANDLES}, {"growth", CLI_FAIL_GROWTH}};
    unsigned bits = 0;
    for (const char *at = list; *at;) {
        size_t len = strcspn(at, ","), k = 0;
        while (k < sizeof kinds / sizeof *kinds &&
               !(strlen(kinds[k].name) == len && strncmp(kinds[k].name, at, len) == 0))
            k++;
        if (k == sizeof kinds / sizeof *kinds)
            return error_set("--fail-on takes a comma list of leaked, possible, handles, growth "
                             "(got '%.*s')", (int)len, at), -1;
        bits |= kinds[k].bit;
        at += len + (at[len] == ',');
    }
    if (!bits)
        return error_set("--fail-on needs at least one of leaked, possible, handles, growth"), -1;
    *out = bits;
    return 0;
}

/* --annotations github, or gitlab=FILE (the Code Quality report is a file CI uploads); may be
 * given once of each. */
static int parse_annotations(const char *what, cli_opts_t *o)
{
    if (strcmp(what, "github") == 0)
        o->annotate_github = 1;
    else if (strncmp(what, "gitlab=", 7) == 0 && what[7])
        o->gitlab_report = what + 7;
    else
        return error_set("--annotations takes github or gitlab=FILE (got '%s')", what), -1;
    return 0;
}

/* Every option, with the CLI_* bit a command must allow to take it (0: every command). */
static const struct {
    struct option opt;
    unsigned bit;
} options[] = {
    {{"format", required_argument, NULL, 'f'}, CLI_FORMAT},
    {{"report", required_argument, NULL, 'r'}, CLI_REPORT},
    {{"allocator", required_argument, NULL, 'A'}, CLI_ALLOCATOR},
    {{"handles", required_argument, NULL, 'K'}, CLI_HANDLES},
    {{"all-processes", no_argument, NULL, 'P'}, CLI_RUN},
    {{"peak-snapshots", required_argument, NULL, 'W'}, CLI_PEAKS},
    {{"app", required_argument, NULL, 'a'}, CLI_APP},
    {{"suppressions", required_argument, NULL, 'S'}, CLI_SUPPRESS},
    {{"no-default-suppressions", no_argument, NULL, 'N'}, CLI_SUPPRESS},
    {{"show-reachable", no_argument, NULL, 'R'}, CLI_SUPPRESS},
    {{"show-indirect", no_argument, NULL, 'I'}, CLI_TEXT},
    {{"by-input", no_argument, NULL, 'Y'}, CLI_TEXT},
    {{"sites", required_argument, NULL, 's'}, CLI_TEXT},
    {{"frames", required_argument, NULL, 'F'}, CLI_TEXT},
    {{"gate", no_argument, NULL, 'g'}, CLI_GATE},
    {{"max-leaked-bytes", required_argument, NULL, 'b'}, CLI_GATE},
    {{"max-leaked-handles", required_argument, NULL, 'H'}, CLI_GATE},
    {{"baseline", required_argument, NULL, 'B'}, CLI_GATE},
    {{"junit", required_argument, NULL, 'j'}, CLI_GATE},
    {{"accept-dropped", no_argument, NULL, 'D'}, CLI_GATE},
    {{"fail-on", required_argument, NULL, 'L'}, CLI_GATE},
    {{"annotations", required_argument, NULL, 'n'}, CLI_GATE},
    {{"annotations-root", required_argument, NULL, 'O'}, CLI_GATE},
    {{"color", optional_argument, NULL, 'c'}, CLI_COLOR},
    {{"duration", required_argument, NULL, 'T'}, CLI_ATTACH},
    {{"interval", required_argument, NULL, 'i'}, CLI_ATTACH},
    {{"help", no_argument, NULL, 'h'}, 0},
};
#define NOPTIONS (sizeof options / sizeof *options)

const char *cli_option_list(unsigned allowed)
{
    static char list[512];
    size_t len = 0;
    list[0] = '\0';
    if (allowed & CLI_OUT)
        len += (size_t)snprintf(list, sizeof list, "-o, ");
    for (size_t i = 0; i < NOPTIONS && len < sizeof list; i++)
        if (!options[i].bit || (options[i].bit & allowed))
            len += (size_t)snprintf(list + len, sizeof list - len, "--%s%s", options[i].opt.name,
                                    i + 1 < NOPTIONS ? ", " : "");
    return list;
}

/* seconds, with a fraction: "10", "0.5"; more than 0 */
static int parse_seconds(const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (text[0] < '0' || text[0] > '9' || *end || errno == ERANGE || !(v > 0) || v > 31536000)
        return -1;
    *out = v;
    return 0;
}

/* --peak-snapshots off, or a factor above 1 (at most 100) */
static int parse_peaks(const char *what, double *factor)
{
    char *end;
    double v = strcmp(what, "off") == 0 ? 0 : strtod(what, &end);
    if (strcmp(what, "off") != 0 && (end == what || *end || !(v > 1 && v <= 100)))
        return error_set("--peak-snapshots takes off or a factor above 1 (got '%s')", what), -1;
    *factor = v;
    return 0;
}

/* --color[=WHEN]: without WHEN, always (as GNU ls) */
static int parse_color(const char *when, int *out)
{
    if (!when || strcmp(when, "always") == 0)
        *out = CLI_COLOR_ALWAYS;
    else if (strcmp(when, "never") == 0)
        *out = CLI_COLOR_NEVER;
    else if (strcmp(when, "auto") == 0)
        *out = CLI_COLOR_AUTO;
    else
        return error_set("--color takes auto, always or never"), -1;
    return 0;
}

int cli_parse(int argc, char **argv, cli_opts_t *o, int stop_at_operand)
{
    struct option longopts[NOPTIONS + 1] = {{NULL, 0, NULL, 0}};
    for (size_t i = 0; i < NOPTIONS; i++)
        longopts[i] = options[i].opt;
    memset(o, 0, sizeof *o);
    o->format = "text";
    o->sites = 20;
    o->frames = 8;
    o->fail_on = CLI_FAIL_DEFAULT;
    o->peak_factor = PEAKS_FACTOR_DEFAULT;
    int c;
    uint64_t n;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, stop_at_operand ? "+:o:" : ":o:", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': o->out = optarg; o->seen |= CLI_OUT; break;
        case 'f': o->format = optarg; o->seen |= CLI_FORMAT; break;
        case 'r': o->report_file = optarg; o->seen |= CLI_REPORT; break;
        case 'A':
            if (strcmp(optarg, "glibc") != 0 && strcmp(optarg, "jemalloc") != 0)
                return error_set("--allocator takes glibc or jemalloc"), -1;
            o->allocator = optarg;
            o->seen |= CLI_ALLOCATOR;
            break;
        case 'K': o->handles = optarg; o->seen |= CLI_HANDLES; break;
        case 'W':
            if (parse_peaks(optarg, &o->peak_factor) < 0)
                return -1;
            o->seen |= CLI_PEAKS;
            break;
        case 'a':
            if (push(&o->app, &o->napp, optarg) < 0)
                return -1;
            o->seen |= CLI_APP;
            break;
        case 'S':
            if (push(&o->suppressions, &o->nsuppressions, optarg) < 0)
                return -1;
            o->seen |= CLI_SUPPRESS;
            break;
        case 'N': o->no_default_suppressions = 1; o->seen |= CLI_SUPPRESS; break;
        case 'P': o->all_processes = 1; o->seen |= CLI_RUN; break;
        case 'R': o->show_reachable = 1; o->seen |= CLI_SUPPRESS; break;
        case 'I': o->show_indirect = 1; o->seen |= CLI_TEXT; break;
        case 'Y': o->by_input = 1; o->seen |= CLI_TEXT; break;
        case 's':
        case 'F':
            if (parse_u64(optarg, &n) < 0 || n > SIZE_MAX)
                return error_set("--%s takes a number", c == 's' ? "sites" : "frames"), -1;
            *(c == 's' ? &o->sites : &o->frames) = (size_t)n;
            o->seen |= CLI_TEXT;
            break;
        case 'g': o->gate = 1; o->seen |= CLI_GATE; break;
        case 'b':
        case 'H':
            if (parse_u64(optarg, c == 'b' ? &o->max_bytes : &o->max_handles) < 0)
                return error_set("--max-leaked-%s takes a number",
                                 c == 'b' ? "bytes" : "handles"), -1;
            o->seen |= CLI_GATE;
            break;
        case 'B': o->baseline = optarg; o->seen |= CLI_GATE; break;
        case 'j': o->junit = optarg; o->seen |= CLI_GATE; break;
        case 'D': o->accept_dropped = 1; o->seen |= CLI_GATE; break;
        case 'L':
            if (parse_fail_on(optarg, &o->fail_on) < 0)
                return -1;
            o->seen |= CLI_GATE;
            break;
        case 'n':
            if (parse_annotations(optarg, o) < 0)
                return -1;
            o->seen |= CLI_GATE;
            break;
        case 'O': o->annotations_root = optarg; o->seen |= CLI_GATE; break;
        case 'c':
            if (parse_color(optarg, &o->color) < 0)
                return -1;
            o->seen |= CLI_COLOR;
            break;
        case 'T':
        case 'i':
            if (parse_seconds(optarg, c == 'T' ? &o->duration : &o->interval) < 0)
                return error_set("--%s takes seconds, more than 0 (got '%s')",
                                 c == 'T' ? "duration" : "interval", optarg), -1;
            o->seen |= CLI_ATTACH;
            break;
        case 'h': return -2;
        case ':': return error_set("%s needs a value", argv[optind - 1]), -1;
        default:
            o->bad_option = 1;
            return error_set("unknown option '%s'", argv[optind - 1]), -1;
        }
    }
    return optind;
}

int cli_only(cli_opts_t *o, unsigned allowed, const char *command)
{
    static const char *const names[] = {"-o", "--format", "--report", "--allocator", "--app",
                                        "--suppressions/--show-reachable", "--sites/--frames/--show-indirect/--by-input", "gate options",
                                        "--color", "--handles", "--duration/--interval",
                                        "--all-processes", "--peak-snapshots"};
    unsigned extra = o->seen & ~allowed;
    for (unsigned i = 0; extra; i++, extra >>= 1)
        if (extra & 1)
            return o->bad_option = 1, error_set("%s does not take %s", command, names[i]), -1;
    return 0;
}

void cli_free(cli_opts_t *o)
{
    free(o->app);
    free(o->suppressions);
    o->app = o->suppressions = NULL;
}
