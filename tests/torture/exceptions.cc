// C++ exceptions thrown through frames that allocate: the unwinder the shim calls and the one
// that unwinds the exception must not disturb each other. Output compared with and without the
// shim; the leaked std::string buffers are reported at throw_deep.
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

static std::vector<std::string *> kept;

[[gnu::noinline]] static int throw_deep(int n)
{
    std::vector<int> v(static_cast<size_t>(n + 1) * 16, n); // allocates on the way down
    if (n == 0)
        throw std::runtime_error("bottom " + std::to_string(v.size()));
    if (n % 7 == 0)
        kept.push_back(new std::string(100, 'x')); // leaked on purpose, reachable from kept
    return throw_deep(n - 1) + 1;
}

int main()
{
    int caught = 0;
    for (int i = 0; i < 2000; i++) {
        try {
            throw_deep(i % 40);
        } catch (const std::exception &e) {
            caught += e.what()[0] == 'b';
        }
    }
    std::printf("exceptions: caught %d\n", caught);
    return caught == 2000 ? 0 : 1;
}
