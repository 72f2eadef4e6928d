/* nomembarrier start|late: threads allocate and free with membarrier refused by a seccomp filter,
 * as a sandbox may refuse it. start: the filter is in place before the program (and the shim)
 * start, by running this program again under it; late: the program installs it after its first
 * allocation, once the shim has registered. The output depends only on what the program did. */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define THREADS 4
#define BLOCKS 50000

static int refuse_membarrier(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_membarrier, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof f / sizeof f[0], f};
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

static void *worker(void *arg)
{
    uintptr_t t = (uintptr_t)arg, sum = 0;
    void **kept = malloc(BLOCKS * sizeof *kept);
    for (int i = 0; i < BLOCKS; i++) {
        kept[i] = malloc(16 + (size_t)(i + t) % 48);
        memset(kept[i], (int)t, 16);
    }
    for (int i = 0; i < BLOCKS; i += 2) {
        sum += ((unsigned char *)kept[i])[0];
        free(kept[i]);
    }
    return (void *)sum; /* the other half stays: the snapshot has live blocks */
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    if (strcmp(argv[1], "start") == 0) {
        if (refuse_membarrier())
            return 3;
        execl("/proc/self/exe", argv[0], "run", (char *)NULL);
        return 4;
    }
    if (strcmp(argv[1], "late") == 0) {
        free(malloc(64));
        if (refuse_membarrier())
            return 3;
    }
    pthread_t th[THREADS];
    for (uintptr_t t = 0; t < THREADS; t++)
        pthread_create(&th[t], NULL, worker, (void *)t);
    uintptr_t total = 0;
    for (int t = 0; t < THREADS; t++) {
        void *rc;
        pthread_join(th[t], &rc);
        total += (uintptr_t)rc;
    }
    printf("membarrier %s: %d threads, %lu\n",
           syscall(SYS_membarrier, 0, 0, 0) < 0 && errno == EPERM ? "refused" : "allowed", THREADS,
           (unsigned long)total);
    return 0;
}
