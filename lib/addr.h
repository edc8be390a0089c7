/* addr.h - IP prefixes, and the two ways edgelink derives an address.
 *
 * Link-local from a public key (wirelink): fe80::/64 with the first 8 bytes
 * of SHA-1 over the raw 32-byte key as interface id.
 * Overlay from a name (wesher): FNV-1a-128 of the name; its last bytes
 * replace the host part of the overlay network.
 */
#ifndef ELK_ADDR_H
#define ELK_ADDR_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#include "key.h"

struct elk_cidr {
	int family;       /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network byte order; first 4 bytes for AF_INET */
	uint8_t len;      /* prefix length */
};

/* "ADDR/LEN", or a bare "ADDR" meaning the whole address (/32 or /128).
 * Host bits are kept (an interface address is 10.0.0.1/24). 0 or -EINVAL. */
int elk_cidr_parse(const char *s, struct elk_cidr *c);
#define ELK_CIDR_STRLEN (INET6_ADDRSTRLEN + 4)
void elk_cidr_format(const struct elk_cidr *c, char out[ELK_CIDR_STRLEN]);
/* The address alone, without "/LEN". */
void elk_cidr_format_addr(const struct elk_cidr *c, char out[ELK_CIDR_STRLEN]);
/* Clears the host bits. */
void elk_cidr_mask(struct elk_cidr *c);
static inline unsigned elk_family_bits(int family)
{
	return family == AF_INET ? 32 : 128;
}

/* Link-local IPv6 address of a public key, as an fe80::/64 host. */
void elk_addr_ll_from_key(const uint8_t pub[ELK_KEY_LEN], uint8_t out[16]);

/* FNV-1a 128-bit hash of data, big-endian, as Go's hash/fnv prints it. */
void elk_fnv1a128(const void *data, size_t len, uint8_t out[16]);
/* Host address for name inside net (net's host bits ignored); the result
 * has net's prefix length. -EINVAL when net leaves no host bits. */
int elk_addr_from_name(const struct elk_cidr *net, const char *name, struct elk_cidr *out);

/* "HOST:PORT", "[V6]:PORT" or "V4:PORT": splits an endpoint into host and
 * port without resolving it. 0 or -EINVAL. */
int elk_endpoint_split(const char *s, char *host, size_t hostlen, uint16_t *port);
/* The same, but port 0 is allowed (facts on the wire may carry it). */
int elk_endpoint_split_any_port(const char *s, char *host, size_t hostlen, uint16_t *port);

/* Resolves the host of an endpoint (getaddrinfo, UDP) and writes the first
 * answer in numeric form ("IP:PORT" or "[IPv6]:PORT") to out. 0, -EINVAL
 * for a malformed endpoint, or -EHOSTUNREACH when the name does not
 * resolve. */
int elk_endpoint_resolve(const char *in, char *out, size_t cap);

#endif
