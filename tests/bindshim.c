/*
 * LD_PRELOAD shim for test peers: rewrite wildcard binds to loopback.
 *
 * Orthanc 1.10 has no option for its listen address and binds INADDR_ANY.
 * With this shim preloaded, any bind() to 0.0.0.0 becomes 127.0.0.1 and any
 * bind() to :: becomes ::1, so test peers are reachable on loopback only.
 * Build: cc -shared -fPIC -o bindshim.so bindshim.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);

int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    static bind_fn real_bind = NULL;
    if (real_bind == NULL) {
        real_bind = (bind_fn)dlsym(RTLD_NEXT, "bind");
    }
    if (addr != NULL && addr->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in copy;
        memcpy(&copy, addr, sizeof(copy));
        if (copy.sin_addr.s_addr == htonl(INADDR_ANY)) {
            copy.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        }
        return real_bind(fd, (const struct sockaddr *)&copy, sizeof(copy));
    }
    if (addr != NULL && addr->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 copy6;
        memcpy(&copy6, addr, sizeof(copy6));
        if (memcmp(&copy6.sin6_addr, &in6addr_any, sizeof(struct in6_addr)) == 0) {
            copy6.sin6_addr = in6addr_loopback;
        }
        return real_bind(fd, (const struct sockaddr *)&copy6, sizeof(copy6));
    }
    return real_bind(fd, addr, len);
}
