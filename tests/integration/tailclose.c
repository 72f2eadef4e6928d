/* tailclose [keep]: opens a file 5 times through libtailclose's tc_open and 5 times through
 * tc_sopen and closes each with tc_close and tc_sclose, whose close and fclose are tail calls
 * (tailclose_lib.c); with "keep", the last of each is kept open to the end. Prints how many it
 * closed. */
#include <stdio.h>
#include <string.h>

typedef struct tc_file tc_file_t;
typedef struct tc_stream tc_stream_t;
tc_file_t *tc_open(const char *path);
int tc_close(tc_file_t *f);
tc_stream_t *tc_sopen(const char *path);
int tc_sclose(tc_stream_t *s);

static tc_file_t *kept_file;
static tc_stream_t *kept_stream;

int main(int argc, char **argv)
{
    int keep = argc > 1 && strcmp(argv[1], "keep") == 0, closed = 0;
    for (int i = 0; i < 5; i++) {
        tc_file_t *f = tc_open("/proc/self/exe");
        tc_stream_t *s = tc_sopen("/proc/self/exe");
        if (!f || !s)
            return 1;
        if (keep && i == 4) {
            kept_file = f;
            kept_stream = s;
            continue;
        }
        closed += tc_close(f) == 0;
        closed += tc_sclose(s) == 0;
    }
    printf("%d\n", closed);
    return 0;
}
