/* Starts with a library of 8 KiB initial-exec TLS (big_tls_lib.c) and says so. */
#include <stdio.h>

int big_tls_touch(int i);

int main(void)
{
    printf("started, TLS answers %d\n", big_tls_touch(42));
    return 0;
}
