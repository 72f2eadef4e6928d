/* Interpreters and virtual machines as runtimes: Python, Node, Ruby, Perl, Lua, the JVM and the
 * like run the user's program, they are not it. Their executables and libraries are recognised
 * by name and by the symbols they define, so that a leak under `python3 script.py` is never
 * charged to python3, and the code they load from their own library trees (the standard
 * library, site-packages, node_modules) is not the user's either. --app overrides both. */
#ifndef IMGLEAK_INTERP_H
#define IMGLEAK_INTERP_H

/* 1 when the ELF module at path is an interpreter's executable or library: by its file name
 * (python3.11, libpython3.11.so.1.0, node, libnode.so.108, ruby, perl, luajit, libjvm.so...) or,
 * for any other name, by defining an interpreter's entry points (Py_BytesMain, napi_module_register,
 * ruby_run_node, perl_run, lua_newstate, JNI_CreateJavaVM). Read once per path. */
int interp_module_is_runtime(const char *path);
/* 1 when a module or a script file lies in an interpreter's own library tree: site-packages,
 * dist-packages, lib/pythonX.Y, node_modules, node's built-in modules (node:...), Python's
 * frozen modules (<frozen ...>). */
int interp_path_is_library(const char *path);

#endif
