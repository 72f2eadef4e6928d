// A C++ library whose create function throws on failure: the exception crosses imgleak's
// trampoline (declared_stubs.S) on its way to the caller, as one from an OpenCV C++ function would.
#include <cstdlib>
#include <stdexcept>

extern "C" void *obj_new(int fail, double scale)
{
    if (fail)
        throw std::runtime_error("obj_new: asked to fail");
    double *obj = static_cast<double *>(std::malloc(64));
    if (!obj)
        throw std::bad_alloc();
    obj[0] = scale;
    return obj;
}

extern "C" double obj_scale(const void *obj)
{
    return static_cast<const double *>(obj)[0];
}

extern "C" void obj_free(void *obj)
{
    std::free(obj);
}

// A cached object: every call returns the same one (declared refcounted, a second create of it
// is one more reference, as a cache hit of libvips's is).
extern "C" void *obj_cached(void)
{
    static double cached[8];
    return cached;
}
