/* wg_cookie.c - WireGuard's mac1/mac2 and cookie reply machinery.
 *
 * Implements the whitepaper's §5.3 and §5.4.4 (mac1, mac2) and §5.4.7
 * (cookie reply), with the kernel's drivers/net/wireguard/cookie.c as the
 * reference for what the paper leaves open: the secret is regenerated
 * lazily when it is needed and older than COOKIE_SECRET_MAX_AGE, the
 * initiator trusts a cookie for COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY,
 * and a cookie reply is accepted once, only as the answer to the last mac1
 * sent. Primitives (MAC, HASH, XAEAD) come from wg_noise.c.
 */
#include "wg_cookie.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "wg_noise.h"

static void precompute_key(uint8_t key[ELK_WG_HASH_LEN], const char *label,
			   const uint8_t pub[ELK_WG_KEY_LEN])
{
	elk_wg_hash(key, label, strlen(label), pub, ELK_WG_KEY_LEN);
}

/* Only handshake messages carry macs; anything shorter than the two macs
 * plus a type word cannot be one. */
static bool has_macs(size_t len)
{
	return len >= 4 + 2 * ELK_WG_MAC_LEN;
}

static bool expired(uint64_t birth_ns, uint64_t now_ns, uint64_t age_s)
{
	/* A clock that appears to run backwards also counts as expired:
	 * better one extra round trip than trusting a stale value. */
	return now_ns < birth_ns || now_ns - birth_ns >= age_s * ELK_WG_NSEC_PER_SEC;
}

/* ---- checker (receiving side) --------------------------------------- */

void elk_wg_cookie_checker_init(struct elk_wg_cookie_checker *c,
				const uint8_t own_public[ELK_WG_KEY_LEN])
{
	sodium_memzero(c, sizeof(*c));
	precompute_key(c->mac1_key, ELK_WG_LABEL_MAC1, own_public);
	precompute_key(c->cookie_key, ELK_WG_LABEL_COOKIE, own_public);
}

void elk_wg_cookie_checker_wipe(struct elk_wg_cookie_checker *c)
{
	sodium_memzero(c, sizeof(*c));
}

int elk_wg_cookie_check_mac1(const struct elk_wg_cookie_checker *c,
			     const uint8_t *msg, size_t len)
{
	uint8_t mac[ELK_WG_MAC_LEN];
	int ret;

	if (!has_macs(len))
		return -EINVAL;
	elk_wg_mac(mac, c->mac1_key, sizeof(c->mac1_key), msg, ELK_WG_MAC1_OFFSET(len));
	ret = sodium_memcmp(mac, msg + ELK_WG_MAC1_OFFSET(len), ELK_WG_MAC_LEN) ? -EBADMSG : 0;
	sodium_memzero(mac, sizeof(mac));
	return ret;
}

/* τ = MAC(R_m, A_m), rotating R_m first if it has aged out. */
static int make_cookie(struct elk_wg_cookie_checker *c, uint8_t cookie[ELK_WG_COOKIE_LEN],
		       const uint8_t *src, size_t srclen, uint64_t now_ns)
{
	if (!c->have_secret ||
	    expired(c->secret_birth_ns, now_ns, ELK_WG_COOKIE_SECRET_MAX_AGE)) {
		if (sodium_init() < 0)
			return -EIO;
		randombytes_buf(c->secret, sizeof(c->secret));
		c->secret_birth_ns = now_ns;
		c->have_secret = true;
	}
	elk_wg_mac(cookie, c->secret, sizeof(c->secret), src, srclen);
	return 0;
}

int elk_wg_cookie_check_mac2(struct elk_wg_cookie_checker *c,
			     const uint8_t *msg, size_t len,
			     const uint8_t *src, size_t srclen, uint64_t now_ns)
{
	uint8_t cookie[ELK_WG_COOKIE_LEN], mac[ELK_WG_MAC_LEN];
	int ret;

	if (!has_macs(len))
		return -EINVAL;
	ret = make_cookie(c, cookie, src, srclen, now_ns);
	if (ret)
		return ret;
	elk_wg_mac(mac, cookie, sizeof(cookie), msg, ELK_WG_MAC2_OFFSET(len));
	ret = sodium_memcmp(mac, msg + ELK_WG_MAC2_OFFSET(len), ELK_WG_MAC_LEN) ? -EBADMSG : 0;
	sodium_memzero(cookie, sizeof(cookie));
	sodium_memzero(mac, sizeof(mac));
	return ret;
}

int elk_wg_cookie_create_reply(struct elk_wg_cookie_checker *c,
			       uint8_t out[ELK_WG_COOKIE_REPLY_SIZE],
			       const uint8_t *msg, size_t len,
			       const uint8_t *src, size_t srclen, uint64_t now_ns)
{
	struct elk_wg_msg_cookie_reply *r = (struct elk_wg_msg_cookie_reply *)out;
	uint8_t cookie[ELK_WG_COOKIE_LEN];
	int ret;

	if (!has_macs(len))
		return -EINVAL;
	ret = make_cookie(c, cookie, src, srclen, now_ns);
	if (ret)
		return ret;
	memset(out, 0, ELK_WG_COOKIE_REPLY_SIZE);
	elk_wg_le32_put(r->type, ELK_WG_MSG_COOKIE_REPLY);
	/* both initiation and response put their sender index at offset 4 */
	memcpy(r->receiver, msg + 4, 4);
	randombytes_buf(r->nonce, sizeof(r->nonce));
	elk_wg_xaead_encrypt(r->encrypted_cookie, cookie, sizeof(cookie),
			     msg + ELK_WG_MAC1_OFFSET(len), ELK_WG_MAC_LEN,
			     r->nonce, c->cookie_key);
	sodium_memzero(cookie, sizeof(cookie));
	return 0;
}

/* ---- maker (sending side) ------------------------------------------- */

void elk_wg_cookie_maker_init(struct elk_wg_cookie_maker *m,
			      const uint8_t peer_public[ELK_WG_KEY_LEN])
{
	sodium_memzero(m, sizeof(*m));
	precompute_key(m->mac1_key, ELK_WG_LABEL_MAC1, peer_public);
	precompute_key(m->cookie_key, ELK_WG_LABEL_COOKIE, peer_public);
}

void elk_wg_cookie_maker_wipe(struct elk_wg_cookie_maker *m)
{
	sodium_memzero(m, sizeof(*m));
}

int elk_wg_cookie_add_macs(struct elk_wg_cookie_maker *m, uint8_t *msg, size_t len,
			   uint64_t now_ns)
{
	uint8_t *mac1, *mac2;

	if (!has_macs(len))
		return -EINVAL;
	mac1 = msg + ELK_WG_MAC1_OFFSET(len);
	mac2 = msg + ELK_WG_MAC2_OFFSET(len);

	elk_wg_mac(mac1, m->mac1_key, sizeof(m->mac1_key), msg, ELK_WG_MAC1_OFFSET(len));
	memcpy(m->last_mac1_sent, mac1, ELK_WG_MAC_LEN);
	m->have_sent_mac1 = true;

	if (m->have_cookie &&
	    !expired(m->cookie_birth_ns, now_ns,
		     ELK_WG_COOKIE_SECRET_MAX_AGE - ELK_WG_COOKIE_SECRET_LATENCY))
		elk_wg_mac(mac2, m->cookie, sizeof(m->cookie), msg, ELK_WG_MAC2_OFFSET(len));
	else
		memset(mac2, 0, ELK_WG_MAC_LEN);
	return 0;
}

int elk_wg_cookie_consume_reply(struct elk_wg_cookie_maker *m,
				const uint8_t msg[ELK_WG_COOKIE_REPLY_SIZE],
				uint64_t now_ns)
{
	const struct elk_wg_msg_cookie_reply *r = (const struct elk_wg_msg_cookie_reply *)msg;
	uint8_t cookie[ELK_WG_COOKIE_LEN];
	int ret;

	if (elk_wg_le32_get(r->type) != ELK_WG_MSG_COOKIE_REPLY)
		return -EBADMSG;
	if (!m->have_sent_mac1)
		return -ENOENT;
	ret = elk_wg_xaead_decrypt(cookie, r->encrypted_cookie, sizeof(r->encrypted_cookie),
				   m->last_mac1_sent, ELK_WG_MAC_LEN, r->nonce,
				   m->cookie_key);
	if (!ret) {
		memcpy(m->cookie, cookie, sizeof(cookie));
		m->cookie_birth_ns = now_ns;
		m->have_cookie = true;
		m->have_sent_mac1 = false;
	}
	sodium_memzero(cookie, sizeof(cookie));
	return ret;
}
