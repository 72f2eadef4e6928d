/* libFuzzer target: imgleak's commands on any input, in process. The first byte picks a command
 * (report in each format, gate on snapshots or on a JSON report, gate --baseline, diff, growth);
 * the rest is one input file, or two separated by SPLIT (diff's BASE and NEW, growth's series,
 * a baseline and its snapshot). The files are written to a private directory and the command runs
 * as from the command line, so everything from opening the file to the last byte of output is
 * covered: the JSON reader, the model, the writers, the summaries and the gate. A crash, a hang,
 * a sanitizer report or an allocation beyond -malloc_limit_mb is a failure; exit status 2 (bad
 * input) is an answer. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int imgleak_main(int argc, char **argv); /* analyzer/commands/main.c, built with -Dmain=imgleak_main */

#define SPLIT "\n--imgleak-fuzz-split--\n"

static char dir[64], path_a[96], path_b[96];

static int put(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = fwrite(data, 1, size, f);
    return fclose(f) == 0 && n == size ? 0 : -1;
}

static void remove_dir(void)
{
    unlink(path_a);
    unlink(path_b);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(dir, sizeof dir, "%s/imgleak-fuzz.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir))
        abort();
    snprintf(path_a, sizeof path_a, "%s/a", dir);
    snprintf(path_b, sizeof path_b, "%s/b", dir);
    atexit(remove_dir);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned pick = data[0];
    const uint8_t *a = data + 1, *b = a;
    size_t na = size - 1, nb = na;
    const uint8_t *cut = memmem(a, na, SPLIT, strlen(SPLIT));
    if (cut) {
        b = cut + strlen(SPLIT);
        nb = (size_t)(a + na - b);
        na = (size_t)(cut - a);
    }
    if (put(path_a, a, na) < 0 || put(path_b, b, nb) < 0)
        abort();
    static const char *const formats[] = {"text", "json", "pprof", "collapsed", "html"};
    char *argv[12];
    int argc = 0;
    argv[argc++] = "imgleak";
    switch (pick % 10) {
    case 0: case 1: case 2: case 3: case 4:
        argv[argc++] = "report";
        argv[argc++] = "--format";
        argv[argc++] = (char *)formats[pick % 10];
        argv[argc++] = "-o";
        argv[argc++] = "/dev/null";
        if (pick & 0x10)
            argv[argc++] = "--show-reachable";
        argv[argc++] = path_a;
        if (cut)
            argv[argc++] = path_b;
        break;
    case 5: /* gate on snapshots or a JSON report, JUnit too */
        argv[argc++] = "gate";
        argv[argc++] = "--junit";
        argv[argc++] = "/dev/null";
        argv[argc++] = path_a;
        if (cut)
            argv[argc++] = path_b;
        break;
    case 6: /* gate --baseline A B */
        argv[argc++] = "gate";
        argv[argc++] = "--baseline";
        argv[argc++] = path_a;
        argv[argc++] = path_b;
        break;
    case 7: case 8: /* diff A B, text or JSON */
        argv[argc++] = "diff";
        argv[argc++] = "--format";
        argv[argc++] = pick % 10 == 7 ? "text" : "json";
        argv[argc++] = "-o";
        argv[argc++] = "/dev/null";
        argv[argc++] = path_a;
        argv[argc++] = path_b;
        break;
    default: /* growth A B */
        argv[argc++] = "growth";
        argv[argc++] = "--format";
        argv[argc++] = pick & 0x10 ? "json" : "text";
        argv[argc++] = "-o";
        argv[argc++] = "/dev/null";
        argv[argc++] = path_a;
        argv[argc++] = path_b;
        break;
    }
    argv[argc] = NULL;
    int rc = imgleak_main(argc, argv);
    if (rc < 0 || rc > 2)
        __builtin_trap(); /* 0, 1 (gate) or 2 (bad input), nothing else */
    return 0;
}
