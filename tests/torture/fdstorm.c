/* A program that closes every descriptor it does not know about, as daemons and spawners do,
 * while the shim writes snapshots: each round writes a few files of its own, closes everything
 * from 3 up (close_range, closefrom, a close() sweep, or dup2 over every number), and reads its
 * files back. A snapshot descriptor closed or replaced under the shim would send snapshot bytes
 * into these files or make their writes fail. Prints the rounds and what went wrong.
 * usage: fdstorm DIR ROUNDS */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FILES 3
#define BYTES 8192
#define TOP 1024 /* the sweeps' end: the usual soft limit of descriptors */

static void fill(char *buf, unsigned round, unsigned file)
{
    for (unsigned i = 0; i < BYTES; i++)
        buf[i] = (char)('a' + (round * 31 + file * 7 + i) % 26);
}

static unsigned dup_failed;

static void close_all(unsigned round)
{
    switch (round % 4) {
    case 0:
        close_range(3, ~0u, 0);
        break;
    case 1:
        closefrom(3);
        break;
    case 2:
        for (int fd = 3; fd < TOP; fd++)
            close(fd);
        break;
    default: {
        /* dup2 over every number, then close them all: the program owns all it names */
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        for (int fd = 3; fd < TOP; fd++)
            if (fd != null && dup2(null, fd) != fd)
                dup_failed++; /* the shim may move its file, never refuse the program */
        close_range(3, ~0u, 0);
    }
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: fdstorm DIR ROUNDS\n");
        return 2;
    }
    unsigned rounds = (unsigned)atoi(argv[2]);
    unsigned corrupted = 0, failed = 0;
    static char want[BYTES], got[BYTES + 1];
    char path[4096];
    for (unsigned r = 0; r < rounds; r++) {
        int fds[FILES];
        for (unsigned f = 0; f < FILES; f++) {
            snprintf(path, sizeof path, "%s/data.%u", argv[1], f);
            /* no O_TRUNC: ext4 flushes a truncated file at close, which makes rounds slow;
             * the files keep their size, and anything written beyond shows as a wrong size */
            fds[f] = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
            free(malloc(100 + r % 1000)); /* the shim has something to record */
        }
        for (unsigned f = 0; f < FILES; f++) {
            fill(want, r, f);
            if (fds[f] < 0 || write(fds[f], want, BYTES) != BYTES)
                failed++;
        }
        close_all(r);
        for (unsigned f = 0; f < FILES; f++) {
            snprintf(path, sizeof path, "%s/data.%u", argv[1], f);
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            ssize_t n = fd < 0 ? -1 : read(fd, got, sizeof got);
            fill(want, r, f);
            if (n != BYTES || memcmp(got, want, BYTES) != 0) {
                corrupted++;
                truncate(path, 0); /* the next round starts clean */
            }
            if (fd >= 0)
                close(fd);
        }
    }
    printf("%u rounds: %u files corrupted, %u writes failed, %u dup2 failed\n", rounds, corrupted,
           failed, dup_failed);
    return corrupted || failed || dup_failed;
}
