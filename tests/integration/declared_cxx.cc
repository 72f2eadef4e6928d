// Declared handles from 4 threads at once, with a C++ exception thrown through the hook every
// tenth call (declared.sh declares obj_new/obj_free). Prints the exceptions caught and the scale
// sum; keeps 3 objects, which must be the only handles left.
#include <cstdio>
#include <stdexcept>
#include <thread>
#include <vector>

extern "C" void *obj_new(int fail, double scale);
extern "C" double obj_scale(const void *obj);
extern "C" void obj_free(void *obj);

static void *kept[3];

int main()
{
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
