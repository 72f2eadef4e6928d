/* ONNX Runtime through its C API table (OrtGetApiBase()->GetApi()), loaded by dlopen as language
 * bindings do: 10 tensors over the program's own buffers, 7 released and 3 forgotten; one create
 * that fails (a shape that does not fit the buffer) and returns an OrtStatus. The members are
 * called by their places in OrtApi (onnxruntime_c_api.h), so no header is needed. Prints how many
 * tensors it made and whether each one's data is the buffer it was given. */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>

typedef void *status_t;
typedef struct {
    const void *const *(*get_api)(uint32_t version);
    const char *(*get_version_string)(void);
} api_base_t;

enum { CREATE_ENV = 3, CREATE_TENSOR_WITH_DATA = 49, GET_TENSOR_DATA = 51, CREATE_CPU_MEMORY_INFO = 69,
       RELEASE_ENV = 92, RELEASE_STATUS = 93, RELEASE_MEMORY_INFO = 94, RELEASE_VALUE = 96 };

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "%s\n", dlerror());
        return 1;
    }
    const api_base_t *(*get_base)(void) = (const api_base_t *(*)(void))dlsym(lib, "OrtGetApiBase");
    const void *const *api = get_base ? get_base()->get_api(17) : NULL;
    if (!api)
        return 1;
    status_t (*create_env)(int, const char *, void **) = api[CREATE_ENV];
    status_t (*create_info)(int, int, void **) = api[CREATE_CPU_MEMORY_INFO];
    status_t (*create_tensor)(const void *, void *, size_t, const int64_t *, size_t, int, void **) =
        api[CREATE_TENSOR_WITH_DATA];
    status_t (*tensor_data)(void *, void **) = api[GET_TENSOR_DATA];
    void (*release_env)(void *) = api[RELEASE_ENV], (*release_status)(void *) = api[RELEASE_STATUS],
         (*release_info)(void *) = api[RELEASE_MEMORY_INFO], (*release_value)(void *) = api[RELEASE_VALUE];
    void *env = NULL, *info = NULL;
    if (create_env(3 /* ORT_LOGGING_LEVEL_ERROR */, "imgleak", &env) || create_info(0, 0, &info))
        return 1;
    static float data[10][64];
    static void *kept[3];
    int64_t shape[2] = {8, 8};
    int made = 0, same = 0;
    for (int i = 0; i < 10; i++) {
        void *value = NULL, *at = NULL;
        if (create_tensor(info, data[i], sizeof data[i], shape, 2, 1 /* float */, &value) || !value)
            continue;
        made++;
        same += !tensor_data(value, &at) && at == data[i];
        if (i < 7)
            release_value(value);
        else
            kept[i - 7] = value;
    }
    int64_t too_big[2] = {80, 80};
    void *none = NULL;
    status_t failed = create_tensor(info, data[0], sizeof data[0], too_big, 2, 1, &none);
    if (failed)
        release_status(failed);
    kept[0] = kept[1] = kept[2] = NULL; /* forgotten */
    release_info(info);
    release_env(env);
    printf("%d %d %s\n", made, same, failed && !none ? "refused" : "accepted");
    return 0;
}
