// C++ functions in a namespace and a class, leaking: symbols.sh checks that the report names them
// as people write them (qualified, demangled), from DWARF and from the symbol table alike.
#include <cstdio>
#include <cstdlib>

namespace preview {
struct Mat {
    int width;
};

class Cache {
  public:
    __attribute__((noinline)) void *keep(const Mat &m)
    {
        void *p = malloc(static_cast<size_t>(m.width)); /* CXX(method) */
        std::printf("kept\n");
        return p;
    }
};

__attribute__((noinline)) void *keep_preview(const Mat &m)
{
    void *p = malloc(static_cast<size_t>(m.width) * 2); /* CXX(function) */
    std::printf("preview\n");
    return p;
}
} // namespace preview

int main()
{
    preview::Mat m{64};
    preview::Cache cache;
    void *a = cache.keep(m);
    void *b = preview::keep_preview(m);
    std::printf("%d\n", a != nullptr && b != nullptr);
    return 0;
}
