/* The shared command line (see cli.h). */
#include "cli.h"

#include "error.h"

#include <errno.h>
#include <getopt.h>
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

int cli_parse(int argc, char **argv, cli_opts_t *o, int stop_at_operand)
{
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'},
        {"app", required_argument, NULL, 'a'},
        {"sites", required_argument, NULL, 's'},
        {"frames", required_argument, NULL, 'F'},
        {"report", required_argument, NULL, 'r'},
        {"allocator", required_argument, NULL, 'A'},
        {"suppressions", required_argument, NULL, 'S'},
        {"no-default-suppressions", no_argument, NULL, 'N'},
        {"show-reachable", no_argument, NULL, 'R'},
        {"gate", no_argument, NULL, 'g'},
        {"max-leaked-bytes", required_argument, NULL, 'b'},
        {"max-leaked-handles", required_argument, NULL, 'H'},
        {"baseline", required_argument, NULL, 'B'},
        {"junit", required_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    o->format = "text";
    o->sites = 20;
    o->frames = 8;
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
        case 'R': o->show_reachable = 1; o->seen |= CLI_SUPPRESS; break;
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
        case 'h': return -2;
        case ':': return error_set("%s needs a value", argv[optind - 1]), -1;
        default:
            return error_set("unknown option '%s'", argv[optind - 1]), -1;
        }
    }
    return optind;
}

int cli_only(const cli_opts_t *o, unsigned allowed, const char *command)
{
    static const char *const names[] = {"-o", "--format", "--report", "--allocator", "--app",
                                        "--suppressions/--show-reachable", "--sites/--frames", "gate options"};
    unsigned extra = o->seen & ~allowed;
    for (unsigned i = 0; extra; i++, extra >>= 1)
        if (extra & 1)
            return error_set("%s does not take %s", command, names[i]), -1;
    return 0;
}

void cli_free(cli_opts_t *o)
{
    free(o->app);
    free(o->suppressions);
    o->app = o->suppressions = NULL;
}
