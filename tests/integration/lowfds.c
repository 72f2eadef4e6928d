/* lowfds IN OUT: puts IN at descriptor 3 and OUT at 4 with dup2, allocates through functions
 * built without unwind tables (lowfds_nocfi.c: libunwind falls back to frame pointers and checks
 * each address through its pipe), then reads IN from 3 and writes it to 4. Prints the number its
 * first open() returned (3 natively) and what it read. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void *nocfi_deep(int n);
void *nocfi_leaf(int i);

static void put_at(const char *path, int flags, int at)
{
    int fd = open(path, flags, 0644);
    if (fd < 0)
        exit(2);
    if (fd != at) {
        dup2(fd, at);
        close(fd);
    }
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    int first = open("/dev/null", O_RDONLY);
    close(first);
    put_at(argv[1], O_RDONLY, 3);
    put_at(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 4);
    for (int i = 0; i < 2000; i++) {
        free(nocfi_deep(i % 50));
        free(nocfi_leaf(i));
    }
    char buf[256] = {0};
    ssize_t n = read(3, buf, sizeof buf - 1);
    if (n > 0 && write(4, buf, (size_t)n) != n)
        return 3;
    printf("first open %d, read %zd bytes: %s\n", first, n, buf);
    return 0;
}
