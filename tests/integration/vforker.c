/* vforker: installs a SIGUSR2 handler and opens a file it never closes, then vforks a child that,
 * on its parent's memory, resets SIGUSR2, closes that descriptor, opens one of its own and execs
 * (Python's subprocess does the first three). Back in the parent, SIGUSR2 must still reach the
 * handler, and the parent's descriptor is still its leak. Prints how often the handler ran. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got;

static void on_usr2(int sig)
{
    (void)sig;
    got++;
}

int main(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_usr2;
    sigaction(SIGUSR2, &sa, NULL);
    int kept = open("/dev/null", O_RDONLY); /* vforker: the parent's leak */
    pid_t child = vfork();
    if (child == 0) {
        struct sigaction dfl = {0};
        dfl.sa_handler = SIG_DFL;
        sigaction(SIGUSR2, &dfl, NULL);
        close(kept);
        int own = open("/dev/zero", O_RDONLY); /* vforker: the child's, gone with its exec */
        (void)own;
        execl("/bin/true", "true", (char *)NULL);
        _exit(127);
    }
    waitpid(child, NULL, 0);
    raise(SIGUSR2);
    printf("handler ran %d\n", (int)got);
    return kept < 0;
}
