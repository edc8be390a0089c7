/* wg_proto.h - WireGuard wire constants and message layouts.
 *
 * Everything here is fixed by the WireGuard whitepaper (J. A. Donenfeld,
 * "WireGuard: Next Generation Kernel Network Tunnel"): the protocol name
 * strings of §5.4, the four message formats of §5.4.2 (handshake
 * initiation), §5.4.3 (handshake response), §5.4.7 (cookie reply) and
 * §5.4.6 (transport data), and the timer and counter limits of §6.1 / §6.4.
 * Names follow the whitepaper, prefixed ELK_WG_.
 *
 * Messages are described as structs of byte arrays only, so they have no
 * padding and no alignment requirement and can be overlaid on any received
 * buffer; multi-byte integers on the wire are little-endian (§5.4: "all
 * integer fields are little-endian") and go through elk_wg_le32/64 helpers.
 * The first four bytes of every message are one little-endian 32-bit word
 * holding the type, i.e. the type byte followed by three zero bytes.
 */
#ifndef ELK_WG_PROTO_H
#define ELK_WG_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* Message types (§5.4). */
#define ELK_WG_MSG_HANDSHAKE_INITIATION	1
#define ELK_WG_MSG_HANDSHAKE_RESPONSE	2
#define ELK_WG_MSG_COOKIE_REPLY		3
#define ELK_WG_MSG_TRANSPORT_DATA	4

/* Protocol name strings hashed into the handshake and the cookie keys. */
#define ELK_WG_CONSTRUCTION	"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
#define ELK_WG_IDENTIFIER	"WireGuard v1 zx2c4 Jason@zx2c4.com"
#define ELK_WG_LABEL_MAC1	"mac1----"
#define ELK_WG_LABEL_COOKIE	"cookie--"

/* Primitive sizes. */
#define ELK_WG_KEY_LEN			32	/* X25519 keys, symmetric keys */
#define ELK_WG_HASH_LEN			32	/* BLAKE2s-256 */
#define ELK_WG_HMAC_BLOCK_LEN		64	/* BLAKE2s block size */
#define ELK_WG_AUTHTAG_LEN		16	/* Poly1305 */
#define ELK_WG_AEAD_NONCE_LEN		12	/* 4 zero bytes || le64 counter */
#define ELK_WG_XAEAD_NONCE_LEN		24
#define ELK_WG_TIMESTAMP_LEN		12	/* TAI64N */
#define ELK_WG_MAC_LEN			16	/* mac1, mac2 */
#define ELK_WG_COOKIE_LEN		16
#define ELK_WG_COOKIE_NONCE_LEN		24
#define ELK_WG_ENCRYPTED_LEN(plain)	((plain) + ELK_WG_AUTHTAG_LEN)

/* Message sizes. */
#define ELK_WG_INITIATION_SIZE		148
#define ELK_WG_RESPONSE_SIZE		92
#define ELK_WG_COOKIE_REPLY_SIZE	64
#define ELK_WG_TRANSPORT_HEADER_SIZE	16
#define ELK_WG_KEEPALIVE_SIZE		(ELK_WG_TRANSPORT_HEADER_SIZE + ELK_WG_AUTHTAG_LEN)
#define ELK_WG_TRANSPORT_MIN_SIZE	ELK_WG_KEEPALIVE_SIZE
/* Transport plaintext is zero-padded to a multiple of this (§5.4.6). */
#define ELK_WG_PADDING_MULTIPLE		16

/* TAI64N: 8-byte big-endian label (2^62 + 10 + unix seconds: the TAI64
 * epoch offset plus the 10 s TAI-UTC difference at 1970, as the kernel and
 * wireguard-go encode it) then 4-byte big-endian nanoseconds. */
#define ELK_WG_TAI64_BASE		0x400000000000000aULL

/* Counters and timers (§6.1, §6.4). Times are in seconds. */
#define ELK_WG_REKEY_AFTER_MESSAGES	(1ULL << 60)
#define ELK_WG_REJECT_AFTER_MESSAGES	(UINT64_MAX - (1ULL << 13))	/* 2^64 - 2^13 - 1 */
#define ELK_WG_REKEY_AFTER_TIME		120
#define ELK_WG_REJECT_AFTER_TIME	180
#define ELK_WG_REKEY_ATTEMPT_TIME	90
#define ELK_WG_REKEY_TIMEOUT		5
#define ELK_WG_KEEPALIVE_TIMEOUT	10
#define ELK_WG_MAX_TIMER_HANDSHAKES	(ELK_WG_REKEY_ATTEMPT_TIME / ELK_WG_REKEY_TIMEOUT)
/* Retransmitted initiations are jittered by up to a third of a second. */
#define ELK_WG_REKEY_TIMEOUT_JITTER_MAX_MS	334
#define ELK_WG_COOKIE_SECRET_MAX_AGE	120
/* The initiator stops using a cookie a little before the responder's secret
 * can have rotated, so it never spends a round trip on a dead mac2. */
#define ELK_WG_COOKIE_SECRET_LATENCY	5
/* Per peer, the responder accepts at most this many initiations a second
 * (the kernel's flood limit, not in the whitepaper). */
#define ELK_WG_INITIATIONS_PER_SECOND	50

#define ELK_WG_NSEC_PER_SEC		1000000000ULL

/* §5.4.2: initiator -> responder. */
struct elk_wg_msg_initiation {
	uint8_t type[4];				/* le32 1 */
	uint8_t sender[4];				/* le32 I_i */
	uint8_t unencrypted_ephemeral[ELK_WG_KEY_LEN];
	uint8_t encrypted_static[ELK_WG_ENCRYPTED_LEN(ELK_WG_KEY_LEN)];
	uint8_t encrypted_timestamp[ELK_WG_ENCRYPTED_LEN(ELK_WG_TIMESTAMP_LEN)];
	uint8_t mac1[ELK_WG_MAC_LEN];
	uint8_t mac2[ELK_WG_MAC_LEN];
};

/* §5.4.3: responder -> initiator. */
struct elk_wg_msg_response {
	uint8_t type[4];				/* le32 2 */
	uint8_t sender[4];				/* le32 I_r */
	uint8_t receiver[4];				/* le32 I_i */
	uint8_t unencrypted_ephemeral[ELK_WG_KEY_LEN];
	uint8_t encrypted_nothing[ELK_WG_ENCRYPTED_LEN(0)];
	uint8_t mac1[ELK_WG_MAC_LEN];
	uint8_t mac2[ELK_WG_MAC_LEN];
};

/* §5.4.7: answer to a handshake message received while under load. */
struct elk_wg_msg_cookie_reply {
	uint8_t type[4];				/* le32 3 */
	uint8_t receiver[4];				/* le32: sender of the triggering message */
	uint8_t nonce[ELK_WG_COOKIE_NONCE_LEN];
	uint8_t encrypted_cookie[ELK_WG_ENCRYPTED_LEN(ELK_WG_COOKIE_LEN)];
};

/* §5.4.6: header of a transport data message; the encrypted, padded packet
 * follows. */
struct elk_wg_msg_transport_header {
	uint8_t type[4];				/* le32 4 */
	uint8_t receiver[4];				/* le32 */
	uint8_t counter[8];				/* le64 */
};

/* Both handshake messages end with mac1 then mac2; mac1 covers everything
 * before it, mac2 everything before mac2 (§5.4.4). */
#define ELK_WG_MAC1_OFFSET(msg_len)	((msg_len) - 2 * ELK_WG_MAC_LEN)
#define ELK_WG_MAC2_OFFSET(msg_len)	((msg_len) - ELK_WG_MAC_LEN)

_Static_assert(sizeof(struct elk_wg_msg_initiation) == ELK_WG_INITIATION_SIZE,
	       "initiation layout");
_Static_assert(sizeof(struct elk_wg_msg_response) == ELK_WG_RESPONSE_SIZE,
	       "response layout");
_Static_assert(sizeof(struct elk_wg_msg_cookie_reply) == ELK_WG_COOKIE_REPLY_SIZE,
	       "cookie reply layout");
_Static_assert(sizeof(struct elk_wg_msg_transport_header) == ELK_WG_TRANSPORT_HEADER_SIZE,
	       "transport header layout");
_Static_assert(offsetof(struct elk_wg_msg_initiation, mac1) ==
	       ELK_WG_MAC1_OFFSET(ELK_WG_INITIATION_SIZE), "initiation mac1");
_Static_assert(offsetof(struct elk_wg_msg_response, mac1) ==
	       ELK_WG_MAC1_OFFSET(ELK_WG_RESPONSE_SIZE), "response mac1");

static inline uint32_t elk_wg_le32_get(const uint8_t b[4])
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

static inline void elk_wg_le32_put(uint8_t b[4], uint32_t v)
{
	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
	b[2] = (uint8_t)(v >> 16);
	b[3] = (uint8_t)(v >> 24);
}

static inline uint64_t elk_wg_le64_get(const uint8_t b[8])
{
	return (uint64_t)elk_wg_le32_get(b) | (uint64_t)elk_wg_le32_get(b + 4) << 32;
}

static inline void elk_wg_le64_put(uint8_t b[8], uint64_t v)
{
	elk_wg_le32_put(b, (uint32_t)v);
	elk_wg_le32_put(b + 4, (uint32_t)(v >> 32));
}

/* The type word of a message, or 0 if the buffer is too short to hold one. */
static inline uint32_t elk_wg_msg_type(const uint8_t *msg, size_t len)
{
	return len < 4 ? 0 : elk_wg_le32_get(msg);
}

#endif
