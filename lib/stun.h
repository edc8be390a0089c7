/* stun.h - the STUN Binding transaction (RFC 8489, formerly 5389) that
 * tells a host behind NAT the public address and port its UDP packets
 * leave with: encoding the request and reading the response, pure (no
 * I/O), for el-punch(1).
 *
 * A Binding request is the 20-byte header alone: type 0x0001, length 0,
 * the magic cookie 0x2112A442 and a 96-bit transaction ID. The success
 * response (0x0101) carries XOR-MAPPED-ADDRESS (0x0020: port XOR the
 * cookie's top 16 bits, address XOR the cookie, and for IPv6 the cookie
 * followed by the transaction ID) or, from RFC 3489 servers, the plain
 * MAPPED-ADDRESS (0x0001). An error response (0x0111) carries ERROR-CODE
 * (0x0009). Attributes are type, length, value padded to 4 bytes.
 */
#ifndef ELK_STUN_H
#define ELK_STUN_H

#include <stddef.h>
#include <stdint.h>

#include "records.h"

#define ELK_STUN_HEADER 20
#define ELK_STUN_TXID 12
#define ELK_STUN_COOKIE 0x2112A442u
#define ELK_STUN_PORT 3478

/* A mapped address: family AF_INET or AF_INET6, addr in network order
 * (4 or 16 bytes used), port in host order. */
struct elk_stun_addr {
	int family;
	uint8_t addr[16];
	uint16_t port;
};

/* Writes a Binding request with txid into out (ELK_STUN_HEADER bytes). */
void elk_stun_request(uint8_t out[ELK_STUN_HEADER], const uint8_t txid[ELK_STUN_TXID]);

/* Whether buf could be a STUN message at all (the top two bits zero, the
 * cookie in place, the length a multiple of 4 that fits): cheap, to tell
 * STUN from other traffic on the same port. */
int elk_stun_is_message(const uint8_t *buf, size_t len);

/* Reads the response to the request with txid:
 *   0        a success response; *out is the mapped address (XOR-MAPPED-
 *            ADDRESS preferred over MAPPED-ADDRESS)
 *   -EAGAIN  not a response to this request (another transaction, not
 *            STUN): ignore it and keep waiting
 *   -EPROTO  an error response; e says the server's code and reason
 *   -EBADMSG a malformed response to this request; e says what is wrong
 * Unknown attributes are skipped; an unknown comprehension-required one
 * (type below 0x8000) in a success response is tolerated, as clients may. */
int elk_stun_response(const uint8_t *buf, size_t len, const uint8_t txid[ELK_STUN_TXID],
		      struct elk_stun_addr *out, struct elk_err *e);

/* "192.0.2.1:3478" or "[2001:db8::1]:3478" into out (ELK_ENDPOINT_MAX). */
void elk_stun_addr_format(const struct elk_stun_addr *a, char *out, size_t cap);

#endif
