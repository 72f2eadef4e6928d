// Declared handles from 4 threads at once, with a C++ exception thrown through the hook every
// tenth call (declared.sh declares obj_new/obj_free). Prints the exceptions caught and the scale
// sum; keeps 3 objects, which must be the only handles left.
// "cached": takes a cached object twice (the second create is a reference), then raises SIGUSR1
// and says whether its handler ran: the hook must leave the thread's signal mask as it found it.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <vector>

extern "C" void *obj_new(int fail, double scale);
extern "C" double obj_scale(const void *obj);
extern "C" void obj_free(void *obj);
extern "C" void *obj_cached(void);

static void *kept[3];
static volatile sig_atomic_t handled;

static void on_usr1(int)
{
    handled = 1;
}

int main(int argc, char **argv)
{
    if (argc == 2 && std::strcmp(argv[1], "cached") == 0) {
        std::signal(SIGUSR1, on_usr1);
        kept[0] = obj_cached();
        kept[1] = obj_cached();
        std::raise(SIGUSR1);
        std::printf("%s\n", handled ? "handled" : "blocked");
        return 0;
    }
    std::vector<std::thread> threads;
    long caught[4] = {0, 0, 0, 0};
    double sums[4] = {0, 0, 0, 0};
    for (int t = 0; t < 4; t++)
        threads.emplace_back([t, &caught, &sums] {
            for (int i = 0; i < 2000; i++) {
                try {
                    void *obj = obj_new(i % 10 == 9, 0.5);
                    sums[t] += obj_scale(obj);
                    obj_free(obj);
                } catch (const std::runtime_error &) {
                    caught[t]++;
                }
            }
        });
    for (auto &th : threads)
        th.join();
    for (int i = 0; i < 3; i++)
        kept[i] = obj_new(0, 1.0);
    kept[0] = kept[1] = kept[2] = nullptr; // leaked
    std::printf("%ld %.1f\n", caught[0] + caught[1] + caught[2] + caught[3],
                sums[0] + sums[1] + sums[2] + sums[3]);
    return 0;
}
