/* A program in a seccomp sandbox that refuses process_vm_readv (as some container runtimes do)
 * and, with "nomem", pread64 too, so that /proc/self/mem cannot stand in for it. A second thread
 * stays blocked, so the scan cannot read in place. Blocks:
 *   sandbox_keep   pointed to by a global       reachable (or unscanned when nothing can read)
 *   sandbox_child  only from sandbox_keep's     reachable (or unscanned)
 *   sandbox_lose   its pointer overwritten      leaked (or unscanned), never reachable
 * Usage: sandboxed vm|nomem */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#endif

#define NOINLINE __attribute__((noinline))

static void **global_block;
static void *volatile lost;

static NOINLINE void sandbox_keep(void) { global_block = calloc(4, sizeof(void *)); }
static NOINLINE void sandbox_child(void) { global_block[0] = calloc(1, 48); }
static NOINLINE void sandbox_lose(void) { lost = calloc(1, 40); }

static int refuse(int also_pread)
{
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_process_vm_readv, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, also_pread ? __NR_pread64 : 0xffffffffu, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
    };
    struct sock_fprog prog = {sizeof filter / sizeof *filter, filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
        perror("seccomp");
        return -1;
    }
    return 0;
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready = PTHREAD_COND_INITIALIZER;
static int thread_ready;

static void *blocked(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    thread_ready = 1;
    pthread_cond_signal(&ready);
    for (;;)
        pthread_cond_wait(&ready, &lock);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2 || (strcmp(argv[1], "vm") != 0 && strcmp(argv[1], "nomem") != 0)) {
        fprintf(stderr, "usage: sandboxed vm|nomem\n");
        return 2;
    }
    if (refuse(strcmp(argv[1], "nomem") == 0) != 0)
        return 1;
    sandbox_keep();
    sandbox_child();
    sandbox_lose();
    lost = NULL;
    pthread_t t;
    if (pthread_create(&t, NULL, blocked, NULL) != 0)
        return 1;
    pthread_mutex_lock(&lock);
    while (!thread_ready)
        pthread_cond_wait(&ready, &lock);
    pthread_mutex_unlock(&lock);
    printf("sandboxed: %s\n", syscall(__NR_process_vm_readv, getpid(), NULL, 0, NULL, 0, 0) < 0 &&
                                      errno == EPERM ? "refused" : "allowed");
    exit(0);
}
