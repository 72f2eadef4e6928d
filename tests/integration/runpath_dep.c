/* Found only through runpath_host's DT_RUNPATH ($ORIGIN/runpath), by a dlopen of its bare name. */
const char *runpath_dep_name(void);

const char *runpath_dep_name(void)
{
    return "found through the caller's DT_RUNPATH";
}
