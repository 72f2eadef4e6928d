/* Descriptors as handles (preload/hooks/fds.c): what a program opens and never closes is a leak,
 * by the line that opened it; what it closes, what it inherited, the standard streams, and what a
 * forked child inherits are not. leak: an open() and a socket() never closed; clean: every one
 * closed. Both: a pipe closed, dup2 onto stdout, a dup'd and an fcntl(F_DUPFD) copy closed, a
 * stream from fdopen closed, a forked child that exits at once. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int kept[2];

int main(int argc, char **argv)
{
    int leak = argc > 1 && strcmp(argv[1], "leak") == 0;
    int fd = open("/dev/null", O_RDONLY);            /* fd leak: open */
    int sock = socket(AF_UNIX, SOCK_STREAM, 0);      /* fd leak: socket */
    int p[2];
    if (fd < 0 || sock < 0 || pipe(p) != 0)
        return 1;
    int copy = dup(fd), high = fcntl(fd, F_DUPFD_CLOEXEC, 40);
    FILE *f = fdopen(dup(p[0]), "r");
    pid_t child = fork();
    if (child == 0)
        _exit(0); /* inherits all of the above: the parent's, not its leaks */
    waitpid(child, NULL, 0);
    dup2(p[1], 1 + 100); /* a copy at 101 */
    close(101);
    fclose(f);
    close(copy);
    close(high);
    close(p[0]);
    close(p[1]);
    if (leak) {
        kept[0] = fd; /* still reachable: a descriptor leak is about the kernel's table */
        kept[1] = sock;
    } else {
        close(fd);
        close(sock);
    }
    return 0;
}
