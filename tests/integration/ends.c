/* Ends a process in the way argv[1] names, after leaking one block at a known line, so that the
 * final snapshot can be checked for each end (tests/integration/final.sh). Also the cases the
 * sentinel must not disturb: a wait() for children, a pipe's EOF, an exec. */
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
void *volatile sink;

__attribute__((noinline)) static void leak_once(void)
{
    sink = malloc(4321); /* LEAK(ends) */
    sink = NULL;
}

/* a child that counts on its pipe's EOF: the sentinels must not hold the write end open */
static int pipe_eof(void)
{
    int fds[2];
    if (pipe(fds) < 0)
        return 1;
    pid_t child = fork();
    if (child == 0) {
        close(fds[1]);
        char buf[64];
        while (read(fds[0], buf, sizeof buf) > 0)
            ;
        _exit(0);
    }
    close(fds[0]);
    if (write(fds[1], "x", 1) != 1)
        return 1;
    close(fds[1]);
    int status;
    return waitpid(child, &status, 0) == child && WIFEXITED(status) ? 0 : 1;
}

/* wait() until no child is left: a sentinel must never be one it waits for */
static int wait_all(void)
{
    if (fork() == 0)
        _exit(0);
    while (wait(NULL) > 0)
        ;
    return 0;
}

/* malloc_stats prints to stderr holding the arena's lock: with stderr a full pipe, the thread
 * stays there, lock held, until the process is killed */
static void *stats_forever(void *arg)
{
    (void)arg;
    malloc_stats();
    return NULL;
}

/* 1 once thread tid sits in write(2), from /proc/self/task/TID/syscall ("1 ..." on x86-64) */
static int in_write(pid_t tid)
{
    char path[64], buf[64] = "";
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    int fd = open(path, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0)
        close(fd);
    return n > 2 && buf[0] == '1' && buf[1] == ' ';
}

static pid_t stats_tid;
static void *stats_thread(void *arg)
{
    stats_tid = (pid_t)syscall(SYS_gettid);
    return stats_forever(arg);
}

/* SIGKILL while another thread holds malloc's lock: the final snapshot must still come */
static void kill_with_malloc_locked(void)
{
    int fds[2];
    if (pipe(fds) < 0)
        return;
    fcntl(fds[1], F_SETFL, O_NONBLOCK);
    char junk[4096] = {0};
    while (write(fds[1], junk, sizeof junk) > 0) /* fill it: the next write blocks */
        ;
    fcntl(fds[1], F_SETFL, 0);
    dup2(fds[1], 2);
    pthread_t t;
    pthread_create(&t, NULL, stats_thread, NULL);
    while (!stats_tid || !in_write(stats_tid))
        sched_yield();
    raise(SIGKILL);
}

int main(int argc, char **argv)
{
    const char *how = argc > 1 ? argv[1] : "return";
    leak_once();
    if (!strcmp(how, "exit"))
        exit(4);
    if (!strcmp(how, "_exit"))
        _exit(3);
    if (!strcmp(how, "daemon")) { /* as daemons do: every descriptor but 0-2 closed, then _exit */
        closefrom(3);
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
        _exit(6);
    }
    /* close_range by a raw system call, as a static or Go program would: no hook sees it, and
     * the sentinel's pipe goes too (the sentinel must tell that from the program's death) */
    if (!strcmp(how, "rawclose")) {
        syscall(SYS_close_range, 3, ~0U, 0);
        usleep(200 * 1000); /* the sentinel sees the pipe's EOF long before the end */
        _exit(8);
    }
    if (!strcmp(how, "rawexec")) { /* ... then a raw execve: the new image's is the only snapshot */
        syscall(SYS_close_range, 3, ~0U, 0);
        usleep(200 * 1000);
        char *args[] = {argv[0], "napreturn", NULL};
        syscall(SYS_execve, argv[0], args, environ);
        _exit(9);
    }
    if (!strcmp(how, "napreturn")) /* rawexec's new image: lives 100 ms, then returns */
        usleep(100 * 1000);
    if (!strcmp(how, "quick_exit"))
        quick_exit(5);
    if (!strcmp(how, "kill"))
        raise(SIGKILL);
    if (!strcmp(how, "lockedkill"))
        kill_with_malloc_locked();
    if (!strcmp(how, "term"))
        raise(SIGTERM);
    if (!strcmp(how, "abort"))
        abort();
    if (!strcmp(how, "segv"))
        *(volatile int *)(uintptr_t)8 = 1;
    if (!strcmp(how, "pipe"))
        return pipe_eof();
    if (!strcmp(how, "wait"))
        return wait_all();
    if (!strcmp(how, "exec")) /* the image before the exec leaves no snapshot of its own */
        execl(argv[0], argv[0], "return", (char *)NULL);
    if (!strcmp(how, "execfail")) { /* a failed exec: the program, and its sentinel, go on */
        execl("/nonexistent/imgleak-test", "x", (char *)NULL);
        _exit(7);
    }
    return 0;
}
