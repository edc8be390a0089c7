/* addr.c - prefixes and derived addresses (see addr.h for the rules). */
#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <netdb.h>
#include <nettle/sha1.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int elk_cidr_parse(const char *s, struct elk_cidr *c)
{
	char buf[ELK_CIDR_STRLEN];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long len;
	char *end;

	memset(c, 0, sizeof(*c));
	if (alen == 0 || alen >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, alen);
	buf[alen] = 0;
	if (inet_pton(AF_INET, buf, c->addr) == 1)
		c->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, c->addr) == 1)
		c->family = AF_INET6;
	else
		return -EINVAL;
	if (!slash) {
		c->len = (uint8_t)elk_family_bits(c->family);
		return 0;
	}
	/* Digits only: strtoul would take " 8", "+8" and "0x8". */
	if (!slash[1] || strspn(slash + 1, "0123456789") != strlen(slash + 1) ||
	    strlen(slash + 1) > 3)
		return -EINVAL;
	len = strtoul(slash + 1, &end, 10);
	if (len > elk_family_bits(c->family))
		return -EINVAL;
	c->len = (uint8_t)len;
	return 0;
}

void elk_cidr_format_addr(const struct elk_cidr *c, char out[ELK_CIDR_STRLEN])
{
	if (!inet_ntop(c->family, c->addr, out, ELK_CIDR_STRLEN))
		snprintf(out, ELK_CIDR_STRLEN, "?");
}

void elk_cidr_format(const struct elk_cidr *c, char out[ELK_CIDR_STRLEN])
{
	size_t n;

	elk_cidr_format_addr(c, out);
	n = strlen(out);
	snprintf(out + n, ELK_CIDR_STRLEN - n, "/%u", c->len);
}

void elk_cidr_mask(struct elk_cidr *c)
{
	unsigned bytes = elk_family_bits(c->family) / 8;

	for (unsigned i = 0; i < bytes; i++) {
		unsigned keep = c->len > i * 8 ? c->len - i * 8 : 0;

		if (keep < 8)
			c->addr[i] &= (uint8_t)(0xff00 >> keep);
	}
}

void elk_addr_ll_from_key(const uint8_t pub[ELK_KEY_LEN], uint8_t out[16])
{
	struct sha1_ctx ctx;
	uint8_t digest[SHA1_DIGEST_SIZE];

	sha1_init(&ctx);
	sha1_update(&ctx, ELK_KEY_LEN, pub);
	sha1_digest(&ctx, sizeof(digest), digest);
	memset(out, 0, 16);
	out[0] = 0xfe;
	out[1] = 0x80;
	memcpy(out + 8, digest, 8);
}

void elk_fnv1a128(const void *data, size_t len, uint8_t out[16])
{
	/* Offset basis and prime from the FNV specification
	 * (draft-eastlake-fnv, 128-bit parameters). */
	const unsigned __int128 prime = ((unsigned __int128)1 << 88) | 0x13b;
	unsigned __int128 h = ((unsigned __int128)0x6c62272e07bb0142ULL << 64) |
			      0x62b821756295c58dULL;
	const uint8_t *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= prime;
	}
	for (int i = 15; i >= 0; i--) {
		out[i] = (uint8_t)h;
		h >>= 8;
	}
}

int elk_addr_from_name(const struct elk_cidr *net, const char *name, struct elk_cidr *out)
{
	uint8_t h[16];
	unsigned bytes = elk_family_bits(net->family) / 8;

	if (net->len >= elk_family_bits(net->family))
		return -EINVAL;
	elk_fnv1a128(name, strlen(name), h);
	*out = *net;
	/* The hash is aligned to the end of the address: its last bytes
	 * become the host part. */
	for (unsigned i = 0; i < bytes; i++) {
		unsigned netbits = net->len > i * 8 ? net->len - i * 8 : 0;
		uint8_t mask = netbits >= 8 ? 0xff : (uint8_t)(0xff00 >> netbits);

		out->addr[i] = (uint8_t)((net->addr[i] & mask) | (h[16 - bytes + i] & ~mask));
	}
	return 0;
}

static int endpoint_split(const char *s, char *host, size_t hostlen, uint16_t *port,
			  bool zero_ok)
{
	const char *colon, *h = s;
	size_t hl;
	unsigned long p;
	char *end;

	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		h = s + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return -EINVAL; /* bare IPv6 needs brackets */
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= hostlen)
		return -EINVAL;
	if (!colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
	    strlen(colon + 1) > 5)
		return -EINVAL;
	p = strtoul(colon + 1, &end, 10);
	if ((p == 0 && !zero_ok) || p > 65535)
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = 0;
	if (strpbrk(host, " \t[]/"))
		return -EINVAL;
	*port = (uint16_t)p;
	return 0;
}

int elk_endpoint_split(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	return endpoint_split(s, host, hostlen, port, false);
}

int elk_endpoint_split_any_port(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	return endpoint_split(s, host, hostlen, port, true);
}

int elk_endpoint_resolve(const char *in, char *out, size_t cap)
{
	char host[256], ip[INET6_ADDRSTRLEN];
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *res;
	uint16_t port;
	const void *a;
	int n;

	if (elk_endpoint_split(in, host, sizeof(host), &port))
		return -EINVAL;
	if (getaddrinfo(host, NULL, &hints, &res) || !res)
		return -EHOSTUNREACH;
	if (res->ai_family == AF_INET)
		a = &((struct sockaddr_in *)res->ai_addr)->sin_addr;
	else
		a = &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr;
	inet_ntop(res->ai_family, a, ip, sizeof(ip));
	n = snprintf(out, cap, res->ai_family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, port);
	freeaddrinfo(res);
	return n < 0 || (size_t)n >= cap ? -EINVAL : 0;
}
