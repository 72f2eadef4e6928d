/* A program using imgleak's API as its users do: built against the installed header (pkg-config
 * imgleak), linking nothing of imgleak's. Under imgleak it tags a request, leaks inside it, and
 * asks for a snapshot; without imgleak the same binary runs and says the API is absent. */
#include <imgleak.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *kept;

static __attribute__((noinline)) void handle_request(const char *id)
{
    IMGLEAK_SET_TAG(id);
    char *body = malloc(4000); /* leaked on request-42 only */
    memset(body, 'x', 4000);
    if (strcmp(id, "request-42") != 0)
        free(body);
    IMGLEAK_SET_TAG(NULL);
}

int main(void)
{
    handle_request("request-41");
    handle_request("request-42");
    handle_request("request-43");
    kept = malloc(16); /* reachable: no tag, no leak */
    int r = IMGLEAK_SNAPSHOT();
    printf("api %s, snapshot %s\n", imgleak_set_tag ? "present" : "absent",
           r == 0 ? "written" : "failed");
    return 0;
}
