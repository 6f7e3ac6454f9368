/* Pagoda — is a listen address reachable from other hosts?
 *
 * Used by the daemons' rule "no plain listener on a non-loopback address
 * without --insecure" (docs/security.md, "Model"). Thread rules: pure
 * functions (getaddrinfo for names), safe from any thread; may block on a
 * name lookup, so call it at start-up, not on the loop.
 */
#ifndef PAGODA_COMMON_NETADDR_H
#define PAGODA_COMMON_NETADDR_H

#include <stdbool.h>

/* True when every address `host` stands for is a loopback address
 * (127.0.0.0/8, ::1, ::ffff:127.x.y.z, or a name such as "localhost" that
 * resolves only to those). False for NULL or "" (all interfaces), for
 * wildcard addresses (0.0.0.0, ::), for any other address, and for a name
 * that does not resolve: when in doubt the address counts as exposed. */
bool pgd_addr_is_loopback(const char *host);

/* The bytes a connected TCP socket has received so far (the kernel's
 * tcpi_bytes_received, Linux 4.1+), or 0 when unknown. Any thread. */
unsigned long long pgd_tcp_bytes_received(int fd);

#endif
