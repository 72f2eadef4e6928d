/* Interpreters as runtimes (see interp.h). */
#include "interp.h"

#include "safeopen.h"

#include <fnmatch.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* file names (fnmatch) of interpreters' executables and libraries */
static const char *const runtime_names[] = {
    "python", "python[0-9]*", "pypy*", "libpython*.so*", "libpypy*.so*",
    "node", "nodejs", "libnode.so*", "deno", "bun",
    "ruby", "ruby[0-9]*", "libruby*.so*",
    "perl", "perl5*", "libperl.so*",
    "lua", "lua[0-9]*", "luajit*", "liblua*.so*", "libluajit*.so*",
    "java", "libjvm.so", "libjli.so",
    "php", "php[0-9]*", "libphp*.so*", "tclsh*", "libtcl*.so*",
};

/* entry points only an interpreter defines (an embedding program imports them) */
static const char *const runtime_symbols[] = {
    "Py_BytesMain", "_PyEval_EvalFrameDefault", "napi_module_register", "ruby_run_node",
    "perl_run", "lua_newstate", "JNI_CreateJavaVM", "php_execute_script", "Tcl_CreateInterp",
};

static int defines_runtime_symbol(const char *path)
{
    int fd = safeopen_read(path, NULL); /* a FIFO or device named by a snapshot must not hang us */
    if (fd < 0)
        return 0;
    int found = 0;
    elf_version(EV_CURRENT);
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    Elf_Scn *scn = NULL;
    while (elf && !found && (scn = elf_nextscn(elf, scn))) {
        GElf_Shdr sh;
        Elf_Data *data;
        if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM || !(data = elf_getdata(scn, NULL)) ||
            !sh.sh_entsize)
            continue;
        for (size_t i = 0; !found && i < sh.sh_size / sh.sh_entsize; i++) {
            GElf_Sym sym;
            const char *name;
            if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF ||
                !(name = elf_strptr(elf, sh.sh_link, sym.st_name)))
                continue;
            for (size_t k = 0; k < sizeof runtime_symbols / sizeof *runtime_symbols; k++)
                if (strcmp(name, runtime_symbols[k]) == 0)
                    found = 1;
        }
    }
    if (elf)
        elf_end(elf);
    close(fd);
    return found;
}

int interp_module_is_runtime(const char *path)
{
    static struct {
        char *path;
        int runtime;
    } seen[256];
    static size_t nseen;
    if (!path || path[0] != '/')
        return 0;
    for (size_t i = 0; i < nseen; i++)
        if (strcmp(seen[i].path, path) == 0)
            return seen[i].runtime;
    const char *base = strrchr(path, '/') + 1;
    int runtime = 0;
    for (size_t i = 0; !runtime && i < sizeof runtime_names / sizeof *runtime_names; i++)
        runtime = fnmatch(runtime_names[i], base, 0) == 0;
    if (!runtime)
        runtime = defines_runtime_symbol(path);
    if (nseen < sizeof seen / sizeof *seen && (seen[nseen].path = strdup(path)))
        seen[nseen++].runtime = runtime;
    return runtime;
}

int interp_path_is_library(const char *path)
{
    if (!path)
        return 0;
    if (strncmp(path, "<frozen ", 8) == 0 || strncmp(path, "node:", 5) == 0)
        return 1;
    return strstr(path, "/site-packages/") || strstr(path, "/dist-packages/") ||
           strstr(path, "/lib/python2") || strstr(path, "/lib/python3") ||
           strstr(path, "/lib/pypy") || strstr(path, "/node_modules/") ||
           strstr(path, "/lib/ruby/") || strstr(path, "/share/perl") || strstr(path, "/lib/perl");
}
