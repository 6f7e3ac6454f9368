/* Pagoda — loopback test for listen addresses (see netaddr.h). */
#include "common/netaddr.h"

#include <arpa/inet.h>
#include <linux/tcp.h> /* tcp_info with tcpi_bytes_received (glibc's lacks it) */
#include <netdb.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

static bool v4_loopback(const struct in_addr *a) { return (ntohl(a->s_addr) >> 24) == 127; }

static bool v6_loopback(const struct in6_addr *a) {
  if (IN6_IS_ADDR_LOOPBACK(a)) return true;
  if (IN6_IS_ADDR_V4MAPPED(a)) {
    struct in_addr v4;
    memcpy(&v4, &a->s6_addr[12], 4);
    return v4_loopback(&v4);
  }
  return false;
}

bool pgd_addr_is_loopback(const char *host) {
  if (!host || !*host) return false;
  struct in_addr a4;
  struct in6_addr a6;
  if (inet_pton(AF_INET, host, &a4) == 1) return v4_loopback(&a4);
  if (inet_pton(AF_INET6, host, &a6) == 1) return v6_loopback(&a6);
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res) return false;
  bool all = true;
  for (struct addrinfo *ai = res; ai && all; ai = ai->ai_next) {
    if (ai->ai_family == AF_INET)
      all = v4_loopback(&((struct sockaddr_in *)ai->ai_addr)->sin_addr);
    else if (ai->ai_family == AF_INET6)
      all = v6_loopback(&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr);
    else
      all = false;
  }
  freeaddrinfo(res);
  return all;
}

unsigned long long pgd_tcp_bytes_received(int fd) {
  struct tcp_info ti;
  socklen_t len = sizeof ti;
  if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
      len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof ti.tcpi_bytes_received)
    return 0;
  return (unsigned long long)ti.tcpi_bytes_received;
}
