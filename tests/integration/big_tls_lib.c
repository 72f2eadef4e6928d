/* A library with 8 KiB of initial-exec TLS, more than the static TLS surplus glibc keeps when an
 * audit library is loaded (its size is fixed before the program's libraries are mapped then). */
__attribute__((tls_model("initial-exec"))) __thread char big_tls_buffer[8192];

int big_tls_touch(int i);

int big_tls_touch(int i)
{
    big_tls_buffer[i % sizeof big_tls_buffer] = (char)i;
    return big_tls_buffer[i % sizeof big_tls_buffer];
}
