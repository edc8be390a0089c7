/* wg_cookie.h - WireGuard's mac1/mac2 and cookie reply machinery.
 *
 * Implements the whitepaper's §5.3 (DoS mitigation) and §5.4.4 / §5.4.7:
 *   mac1 = MAC(HASH(LABEL_MAC1 || Spub_receiver), msg[0 : offset(mac1)])
 *   mac2 = MAC(cookie, msg[0 : offset(mac2)]), or zero without a cookie
 *   cookie = MAC(R_m, A_m): R_m a secret rotated every COOKIE_SECRET_MAX_AGE,
 *	      A_m the sender's source address (IP and port, as bytes)
 *   cookie reply = XAEAD(HASH(LABEL_COOKIE || Spub_m), nonce, cookie,
 *			  mac1 of the message being answered)
 *
 * Two halves: a checker, owned by whoever receives handshake messages with
 * our public key (validates mac1/mac2, makes cookie replies), and a maker,
 * one per peer, which stamps our outgoing handshake messages and consumes
 * the cookie replies they provoke. Pure: the caller passes the monotonic
 * time `now_ns` and the source address bytes; the checker's secret comes
 * from libsodium's randombytes.
 *
 * Return values: 0, or -EBADMSG (bad mac, failed decryption), -EINVAL
 * (message too short), -ENOENT (cookie reply nobody asked for).
 */
#ifndef ELK_WG_COOKIE_H
#define ELK_WG_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wg_proto.h"

struct elk_wg_cookie_checker {
	uint8_t mac1_key[ELK_WG_HASH_LEN];	/* HASH(LABEL_MAC1 || our public) */
	uint8_t cookie_key[ELK_WG_HASH_LEN];	/* HASH(LABEL_COOKIE || our public) */
	uint8_t secret[ELK_WG_HASH_LEN];	/* R_m */
	uint64_t secret_birth_ns;
	bool have_secret;
};

struct elk_wg_cookie_maker {
	uint8_t mac1_key[ELK_WG_HASH_LEN];	/* HASH(LABEL_MAC1 || peer public) */
	uint8_t cookie_key[ELK_WG_HASH_LEN];	/* HASH(LABEL_COOKIE || peer public) */
	uint8_t cookie[ELK_WG_COOKIE_LEN];
	uint64_t cookie_birth_ns;
	bool have_cookie;
	/* A cookie reply is only accepted as the answer to the last mac1 we
	 * sent (it is the reply's AAD), and only once. */
	uint8_t last_mac1_sent[ELK_WG_MAC_LEN];
	bool have_sent_mac1;
};

/* Checker: our own public key. Call again if it changes. */
void elk_wg_cookie_checker_init(struct elk_wg_cookie_checker *c,
				const uint8_t own_public[ELK_WG_KEY_LEN]);
void elk_wg_cookie_checker_wipe(struct elk_wg_cookie_checker *c);

/* mac1 of a received handshake message (initiation or response, whole
 * message, len = its size). Cheap; run it before any DH. */
int elk_wg_cookie_check_mac1(const struct elk_wg_cookie_checker *c,
			     const uint8_t *msg, size_t len);
/* mac2, against the cookie this source address would get now. Only
 * meaningful when under load; rotates the secret when it is too old. */
int elk_wg_cookie_check_mac2(struct elk_wg_cookie_checker *c,
			     const uint8_t *msg, size_t len,
			     const uint8_t *src, size_t srclen, uint64_t now_ns);
/* Cookie reply to a handshake message (whose mac1 has been checked); its
 * receiver index is the message's sender index (offset 4 in both). */
int elk_wg_cookie_create_reply(struct elk_wg_cookie_checker *c,
			       uint8_t out[ELK_WG_COOKIE_REPLY_SIZE],
			       const uint8_t *msg, size_t len,
			       const uint8_t *src, size_t srclen, uint64_t now_ns);

/* Maker: the peer's public key. */
void elk_wg_cookie_maker_init(struct elk_wg_cookie_maker *m,
			      const uint8_t peer_public[ELK_WG_KEY_LEN]);
void elk_wg_cookie_maker_wipe(struct elk_wg_cookie_maker *m);
/* Fill mac1 and mac2 of an outgoing handshake message in place. mac2 is
 * zero unless we hold a cookie younger than
 * COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY. */
int elk_wg_cookie_add_macs(struct elk_wg_cookie_maker *m, uint8_t *msg, size_t len,
			   uint64_t now_ns);
/* Consume a cookie reply (already routed to this peer by its receiver
 * index). */
int elk_wg_cookie_consume_reply(struct elk_wg_cookie_maker *m,
				const uint8_t msg[ELK_WG_COOKIE_REPLY_SIZE],
				uint64_t now_ns);

#endif
