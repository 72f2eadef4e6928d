/* ONNX Runtime's C API is not reached through symbols: OrtGetApiBase() returns an OrtApiBase
 * whose GetApi(version) returns the OrtApi, a table of function pointers in the library's
 * read-only data. The trampoline of OrtGetApiBase (an `api` declaration) gives the program an
 * OrtApiBase of the shim's own instead; its GetApi copies the real table once and points the
 * declared members (TABLE.MEMBER lines, at the indices declfile.c knows) at their trampolines,
 * whose real functions are the table's. The table's length is not known (members are appended
 * with every version): the copy reads up to API_SLOTS entries with process_vm_readv, which stops
 * at the end of the mapping instead of faulting. One real table at a time: a second library's is
 * returned unpatched. */
#define _GNU_SOURCE
#include "declared_api.h"

#include "declared.h"
#include "os.h"

#include <pthread.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define API_SLOTS 1024

typedef struct {
    const void *(*get_api)(uint32_t version);
    const char *(*get_version_string)(void);
} api_base_t;

static pthread_mutex_t api_lock = PTHREAD_MUTEX_INITIALIZER;
static const api_base_t *_Atomic real_base;
static api_base_t own_base;
static const void *real_table;
static void **patched; /* API_SLOTS entries, os_map'ed once */

/* The real table copied and patched; 0, or -1 when it could not be read. */
static int patch(const void *table)
{
    if (!patched && !(patched = os_map(API_SLOTS * sizeof *patched)))
        return -1;
    struct iovec local = {patched, API_SLOTS * sizeof *patched};
    struct iovec remote = {(void *)table, API_SLOTS * sizeof *patched};
    ssize_t got = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    if (got <= 0) {
        os_log("cannot copy the API table at %p; its functions are not hooked", table);
        return -1;
    }
    size_t n = (size_t)got / sizeof *patched;
    for (unsigned i = 0; i < declared_function_count(); i++) {
        int at = declared_table_index(i);
        if (at < 0 || (size_t)at >= n || !patched[at])
            continue;
        declared_set_real(i, patched[at]);
        patched[at] = declared_hook(i);
    }
    real_table = table;
    return 0;
}

static const void *own_get_api(uint32_t version)
{
    const api_base_t *base = __atomic_load_n(&real_base, __ATOMIC_ACQUIRE);
    const void *table = base->get_api(version);
    if (!table)
        return table;
    pthread_mutex_lock(&api_lock);
    const void *give = table;
    if (table == real_table || (!real_table && patch(table) == 0))
        give = patched;
    pthread_mutex_unlock(&api_lock);
    return give;
}

uintptr_t declared_api_wrap(uintptr_t base)
{
    const api_base_t *given = (const api_base_t *)base;
    if (!given)
        return base;
    const api_base_t *known = __atomic_load_n(&real_base, __ATOMIC_ACQUIRE);
    if (known && known != given)
        return base; /* another copy of the library: left as it is */
    if (!known) {
        pthread_mutex_lock(&api_lock);
        own_base.get_api = own_get_api;
        own_base.get_version_string = given->get_version_string;
        __atomic_store_n(&real_base, given, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&api_lock);
    }
    return (uintptr_t)&own_base;
}
