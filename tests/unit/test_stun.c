/* test_stun.c - lib/stun.c: the Binding request's bytes, RFC 5769's sample
 * responses (tests/vectors/stun.txt), the plain MAPPED-ADDRESS of RFC 3489
 * servers, error responses, other transactions and other traffic ignored,
 * and every truncation and every length byte of a response rejected or
 * ignored, never read past. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "stun.h"
#include "t.h"
#include "vec.h"

static const uint8_t TXID[ELK_STUN_TXID] = { 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
					      0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae };

static void test_request(void)
{
	uint8_t m[ELK_STUN_HEADER];
	static const uint8_t want[ELK_STUN_HEADER] = { 0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4,
						       0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
						       0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae };

	elk_stun_request(m, TXID);
	T_EQ_MEM(m, want, sizeof(want), "Binding request");
	T_CHECK(elk_stun_is_message(m, sizeof(m)), "a request is a STUN message");
}

static void check_vector(const char *sect, int family, const char *text)
{
	size_t n, na, nt;
	const uint8_t *msg = vget(sect, "msg", &n), *addr = vget(sect, "addr", &na),
		      *port = vgetn(sect, "port", 2);
	struct elk_stun_addr a;
	struct elk_err e = { "" };
	char s[64];

	T_EQ_INT(elk_stun_response(msg, n, vget(sect, "txid", &nt), &a, &e), 0, sect);
	T_EQ_INT(a.family, family, "family");
	T_EQ_MEM(a.addr, addr, na, "address");
	T_EQ_INT(a.port, port[0] << 8 | port[1], "port");
	elk_stun_addr_format(&a, s, sizeof(s));
	T_EQ_STR(s, text, "formatted");

	/* Every shorter prefix: ignored (not a whole message) or rejected,
	 * never an address. The length field says 60/72 bytes of body, so a
	 * prefix is never a whole message. */
	for (size_t k = 0; k < n; k++) {
		int r = elk_stun_response(msg, k, TXID, &a, &e);

		T_CHECK(r == -EAGAIN, "%s: a %zu-byte prefix: %d", sect, k, r);
	}
	/* Another transaction's answer, and ours with a flipped cookie. */
	uint8_t m[128];

	memcpy(m, msg, n);
	m[19] ^= 1;
	T_EQ_INT(elk_stun_response(m, n, TXID, &a, &e), -EAGAIN, "another transaction");
	memcpy(m, msg, n);
	m[5] ^= 1;
	T_EQ_INT(elk_stun_response(m, n, TXID, &a, &e), -EAGAIN, "not the cookie");
	/* Every value of each attribute's length's low byte: a consistent
	 * walk or a reason, never a read past the message (ASan). */
	for (size_t off = ELK_STUN_HEADER; off + 4 <= n;) {
		size_t alen = (size_t)(msg[off + 2] << 8 | msg[off + 3]);

		for (int v = 0; v < 256; v++) {
			memcpy(m, msg, n);
			m[off + 3] = (uint8_t)v;
			e.msg[0] = 0;
			int r = elk_stun_response(m, n, TXID, &a, &e);

			T_CHECK(r == 0 || r == -EBADMSG, "%s: length %d at %zu: %d", sect, v, off, r);
			T_CHECK(r == 0 || e.msg[0], "%s: a reason", sect);
		}
		off += 4 + ((alen + 3) & ~(size_t)3);
	}
}

/* A response from parts: type, then attributes (type, value) padded. */
static size_t build(uint8_t *m, uint16_t type, const uint8_t *attrs, size_t alen)
{
	elk_stun_request(m, TXID);
	m[0] = (uint8_t)(type >> 8);
	m[1] = (uint8_t)type;
	m[2] = (uint8_t)(alen >> 8);
	m[3] = (uint8_t)alen;
	if (alen)
		memcpy(m + ELK_STUN_HEADER, attrs, alen);
	return ELK_STUN_HEADER + alen;
}

static void test_other_forms(void)
{
	uint8_t m[256];
	struct elk_stun_addr a;
	struct elk_err e;
	char s[64];
	size_t n;

	/* RFC 3489 servers: MAPPED-ADDRESS only, not XORed. */
	static const uint8_t plain[] = { 0x00, 0x01, 0x00, 0x08, 0x00, 0x01, 0xca, 0x6c,
					 198, 51, 100, 7 };
	n = build(m, 0x0101, plain, sizeof(plain));
	T_EQ_INT(elk_stun_response(m, n, TXID, &a, &e), 0, "MAPPED-ADDRESS");
	elk_stun_addr_format(&a, s, sizeof(s));
	T_EQ_STR(s, "198.51.100.7:51820", "plain mapped address");

	/* Both: XOR-MAPPED-ADDRESS wins, in either order. */
	static const uint8_t both[] = { 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47,
					0xe1, 0x12, 0xa6, 0x43, 0x00, 0x01, 0x00, 0x08,
					0x00, 0x01, 0xca, 0x6c, 198, 51, 100, 7 };
	n = build(m, 0x0101, both, sizeof(both));
	T_EQ_INT(elk_stun_response(m, n, TXID, &a, &e), 0, "both");
	elk_stun_addr_format(&a, s, sizeof(s));
	T_EQ_STR(s, "192.0.2.1:32853", "XOR-MAPPED-ADDRESS first");
	static const uint8_t both2[] = { 0x00, 0x01, 0x00, 0x08, 0x00, 0x01, 0xca, 0x6c,
					 198, 51, 100, 7, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01,
					 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43 };
	n = build(m, 0x0101, both2, sizeof(both2));
	T_EQ_INT(elk_stun_response(m, n, TXID, &a, &e), 0, "both, other order");
	elk_stun_addr_format(&a, s, sizeof(s));
	T_EQ_STR(s, "192.0.2.1:32853", "XOR-MAPPED-ADDRESS second");

	/* An error response: its code and reason, control bytes masked. */
	static const uint8_t err[] = { 0x00, 0x09, 0x00, 0x0f, 0x00, 0x00, 0x04, 0x00,
				       'B', 'a', 'd', '\n', 'R', 'e', 'q', 'u', 'e', 's', 't', 0 };
	n = build(m, 0x0111, err, sizeof(err));
	T_EQ_INT(elk_stun_response(m, n, TXID, &a, &e), -EPROTO, "error response");
	T_EQ_STR(e.msg, "the server answered error 400: Bad?Request", "error text");
	n = build(m, 0x0111, NULL, 0);
	T_EQ_INT(elk_stun_response(m, n, TXID, &a, &e), -EPROTO, "error without code");

	/* A success without an address; an unknown family; a bad length. */
	static const uint8_t sw[] = { 0x80, 0x22, 0x00, 0x03, 'a', 'b', 'c', 0x20 };
	n = build(m, 0x0101, sw, sizeof(sw));
	T_EQ_INT(elk_stun_response(m, n, TXID, &a, &e), -EBADMSG, "no address");
	static const uint8_t fam[] = { 0x00, 0x20, 0x00, 0x08, 0x00, 0x03, 0, 0, 1, 2, 3, 4 };
	n = build(m, 0x0101, fam, sizeof(fam));
	T_EQ_INT(elk_stun_response(m, n, TXID, &a, &e), -EBADMSG, "family 3");
	T_CHECK(strstr(e.msg, "family") != NULL, "%s", e.msg);
	static const uint8_t v4in6[] = { 0x00, 0x20, 0x00, 0x0c, 0x00, 0x01, 0, 0,
					 1, 2, 3, 4, 5, 6, 7, 8 };
	n = build(m, 0x0101, v4in6, sizeof(v4in6));
	T_EQ_INT(elk_stun_response(m, n, TXID, &a, &e), -EBADMSG, "IPv4 with 8 bytes");

	/* Requests and indications echoing our ID, and non-STUN bytes (a
	 * WireGuard initiation starts 01 00 00 00): ignored. */
	n = build(m, 0x0001, NULL, 0);
	T_EQ_INT(elk_stun_response(m, n, TXID, &a, &e), -EAGAIN, "a request");
	n = build(m, 0x0011, NULL, 0);
	T_EQ_INT(elk_stun_response(m, n, TXID, &a, &e), -EAGAIN, "an indication");
	memset(m, 0, 148);
	m[0] = 1;
	T_EQ_INT(elk_stun_response(m, 148, TXID, &a, &e), -EAGAIN, "a WireGuard initiation");
	T_CHECK(!elk_stun_is_message(m, 148), "not STUN");
	/* A length not a multiple of 4 is not STUN. */
	n = build(m, 0x0101, plain, sizeof(plain));
	m[3] = 11;
	T_EQ_INT(elk_stun_response(m, n, TXID, &a, &e), -EAGAIN, "length 11");
}

int main(void)
{
	elk_init("test_stun");
	test_request();
	if (load_vectors("stun.txt")) {
		check_vector("rfc5769-ipv4", AF_INET, "192.0.2.1:32853");
		check_vector("rfc5769-ipv6", AF_INET6, "[2001:db8:1234:5678:11:2233:4455:6677]:32853");
		free_vectors();
	}
	test_other_forms();
	return T_DONE();
}
