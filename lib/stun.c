/* stun.c - STUN Binding request and response (see stun.h; RFC 8489). */
#include "stun.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

enum {
	BINDING_REQUEST = 0x0001,
	BINDING_SUCCESS = 0x0101,
	BINDING_ERROR = 0x0111,
	ATTR_MAPPED_ADDRESS = 0x0001,
	ATTR_ERROR_CODE = 0x0009,
	ATTR_XOR_MAPPED_ADDRESS = 0x0020,
	FAMILY_IPV4 = 0x01,
	FAMILY_IPV6 = 0x02,
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

void elk_stun_request(uint8_t out[ELK_STUN_HEADER], const uint8_t txid[ELK_STUN_TXID])
{
	put16(out, BINDING_REQUEST);
	put16(out + 2, 0);
	out[4] = (uint8_t)(ELK_STUN_COOKIE >> 24);
	out[5] = (uint8_t)(ELK_STUN_COOKIE >> 16);
	out[6] = (uint8_t)(ELK_STUN_COOKIE >> 8);
	out[7] = (uint8_t)ELK_STUN_COOKIE;
	memcpy(out + 8, txid, ELK_STUN_TXID);
}

int elk_stun_is_message(const uint8_t *buf, size_t len)
{
	return len >= ELK_STUN_HEADER && !(buf[0] & 0xc0) && get32(buf + 4) == ELK_STUN_COOKIE &&
	       !(get16(buf + 2) & 3) && (size_t)get16(buf + 2) + ELK_STUN_HEADER <= len;
}

/* One address attribute's value; xor with the cookie (and txid) when x. */
static int read_addr(const uint8_t *v, size_t n, int x, const uint8_t *hdr,
		     struct elk_stun_addr *out, struct elk_err *e, const char *name)
{
	size_t alen;

	if (n < 4)
		return elk_errf(e, "%s: %zu bytes, too short", name, n), -EBADMSG;
	if (v[1] == FAMILY_IPV4) {
		out->family = AF_INET;
		alen = 4;
	} else if (v[1] == FAMILY_IPV6) {
		out->family = AF_INET6;
		alen = 16;
	} else {
		return elk_errf(e, "%s: unknown address family 0x%02x", name, v[1]), -EBADMSG;
	}
	if (n != 4 + alen)
		return elk_errf(e, "%s: %zu bytes for an IPv%c address", name, n,
				alen == 4 ? '4' : '6'), -EBADMSG;
	out->port = get16(v + 2);
	memcpy(out->addr, v + 4, alen);
	if (x) {
		/* hdr + 4: the cookie, then the transaction ID. */
		out->port ^= (uint16_t)(ELK_STUN_COOKIE >> 16);
		for (size_t i = 0; i < alen; i++)
			out->addr[i] ^= hdr[4 + i];
	}
	return 0;
}

int elk_stun_response(const uint8_t *buf, size_t len, const uint8_t txid[ELK_STUN_TXID],
		      struct elk_stun_addr *out, struct elk_err *e)
{
	uint16_t type;
	size_t body, off;
	int have = 0, r;

	if (!elk_stun_is_message(buf, len) || memcmp(buf + 8, txid, ELK_STUN_TXID))
		return -EAGAIN;
	type = get16(buf);
	if (type != BINDING_SUCCESS && type != BINDING_ERROR)
		return -EAGAIN; /* a request or an indication that echoes our ID */
	body = get16(buf + 2);
	memset(out, 0, sizeof(*out));
	for (off = 0; off + 4 <= body;) {
		const uint8_t *a = buf + ELK_STUN_HEADER + off;
		uint16_t at = get16(a), alen = get16(a + 2);
		size_t padded = ((size_t)alen + 3) & ~(size_t)3;

		if (4 + padded > body - off)
			return elk_errf(e, "attribute 0x%04x at byte %zu: %u bytes run past the "
					"message", at, ELK_STUN_HEADER + off, alen), -EBADMSG;
		if (type == BINDING_ERROR && at == ATTR_ERROR_CODE) {
			if (alen < 4)
				return elk_errf(e, "ERROR-CODE: %u bytes, too short", alen),
				       -EBADMSG;
			unsigned code = (a[6] & 7) * 100u + a[7];
			int rlen = alen - 4;

			/* The reason is UTF-8 from the server: printed as %.*s
			 * with its length, control bytes replaced. */
			char reason[128];
			int k = 0;

			for (int i = 0; i < rlen && k < (int)sizeof(reason) - 1; i++)
				reason[k++] = a[8 + i] < 0x20 || a[8 + i] == 0x7f ? '?' : (char)a[8 + i];
			reason[k] = 0;
			elk_errf(e, "the server answered error %u%s%s", code, k ? ": " : "", reason);
			return -EPROTO;
		}
		if (type == BINDING_SUCCESS &&
		    (at == ATTR_XOR_MAPPED_ADDRESS || (at == ATTR_MAPPED_ADDRESS && !have))) {
			int x = at == ATTR_XOR_MAPPED_ADDRESS;

			r = read_addr(a + 4, alen, x, buf, out, e,
				      x ? "XOR-MAPPED-ADDRESS" : "MAPPED-ADDRESS");
			if (r)
				return r;
			have = x ? 2 : 1;
		}
		off += 4 + padded;
	}
	if (off != body)
		return elk_errf(e, "%zu bytes after the last attribute", body - off), -EBADMSG;
	if (type == BINDING_ERROR)
		return elk_errf(e, "an error response without ERROR-CODE"), -EPROTO;
	if (!have)
		return elk_errf(e, "a success response without a mapped address"), -EBADMSG;
	return 0;
}

void elk_stun_addr_format(const struct elk_stun_addr *a, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(a->family, a->addr, ip, sizeof(ip));
	if (a->family == AF_INET6)
		snprintf(out, cap, "[%s]:%u", ip, a->port);
	else
		snprintf(out, cap, "%s:%u", ip, a->port);
}
