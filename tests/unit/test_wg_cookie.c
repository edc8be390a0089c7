/* test_wg_cookie.c - unit tests for lib/wg_cookie.c (whitepaper §5.3,
 * §5.4.4, §5.4.7).
 *
 * mac1 and the cookie reply are checked byte for byte against values from
 * an independent Python implementation (tests/vectors/wg_handshake.txt and
 * hmac_blake2s.txt say how they were made); then the full DoS dance between
 * a responder under load and an initiator, tampering, stale and
 * unsolicited replies, source-address binding and the two expiry clocks.
 * Run from the repo root, or pass the vectors directory as argv[1].
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "t.h"
#include "wg_cookie.h"
#include "wg_noise.h"

#include "vec.h"

/* ---- known answers --------------------------------------------------- */

#define SEC ELK_WG_NSEC_PER_SEC

static void test_keys(void)
{
	struct elk_wg_cookie_checker c;
	struct elk_wg_cookie_maker m;
	const uint8_t *pub = vgetn("labels", "public", 32);

	elk_wg_cookie_checker_init(&c, pub);
	T_EQ_MEM(c.mac1_key, vgetn("labels", "mac1_key", 32), 32, "checker mac1 key");
	T_EQ_MEM(c.cookie_key, vgetn("labels", "cookie_key", 32), 32, "checker cookie key");
	T_CHECK(!c.have_secret, "no secret before first use");
	elk_wg_cookie_maker_init(&m, pub);
	T_EQ_MEM(m.mac1_key, vgetn("labels", "mac1_key", 32), 32, "maker mac1 key");
	T_EQ_MEM(m.cookie_key, vgetn("labels", "cookie_key", 32), 32, "maker cookie key");
	T_CHECK(!m.have_cookie && !m.have_sent_mac1, "fresh maker");
}

/* mac1 of both reference messages, made and checked. */
static void test_mac1_known(void)
{
	static const struct {
		const char *msg, *receiver_pub;
		size_t len;
	} cases[] = {
		{ "initiation", "responder_static_pub", ELK_WG_INITIATION_SIZE },
		{ "response", "initiator_static_pub", ELK_WG_RESPONSE_SIZE },
	};
	static const char *sects[] = { "psk", "no-psk" };
	size_t s, k, i;

	for (s = 0; s < 2; s++)
		for (k = 0; k < 2; k++) {
			const char *sect = sects[s];
			size_t len = cases[k].len;
			const uint8_t *ref = vgetn(sect, cases[k].msg, len);
			const uint8_t *pub = vgetn(sect, cases[k].receiver_pub, 32);
			const uint8_t *other = vgetn(sect, k ? "responder_static_pub" :
							      "initiator_static_pub", 32);
			struct elk_wg_cookie_checker c, wrong;
			struct elk_wg_cookie_maker m;
			uint8_t buf[ELK_WG_INITIATION_SIZE];
			int bad = 0, good = 0;

			memcpy(buf, ref, len);
			memset(buf + ELK_WG_MAC1_OFFSET(len), 0xee, 32);
			elk_wg_cookie_maker_init(&m, pub);
			T_EQ_INT(elk_wg_cookie_add_macs(&m, buf, len, 0), 0, "add_macs");
			T_EQ_MEM(buf, ref, len, "[%s] %s: mac1 matches the reference, mac2 zero",
				 sect, cases[k].msg);
			T_EQ_MEM(m.last_mac1_sent, ref + ELK_WG_MAC1_OFFSET(len), 16,
				 "last mac1 remembered");

			elk_wg_cookie_checker_init(&c, pub);
			elk_wg_cookie_checker_init(&wrong, other);
			T_EQ_INT(elk_wg_cookie_check_mac1(&c, ref, len), 0, "reference mac1 valid");
			T_EQ_INT(elk_wg_cookie_check_mac1(&wrong, ref, len), -EBADMSG,
				 "mac1 for another key");

			/* mac1 covers every byte before it, and nothing after */
			for (i = 0; i < len; i++) {
				memcpy(buf, ref, len);
				buf[i] ^= (uint8_t)(1u << (i % 8));
				if (i < ELK_WG_MAC2_OFFSET(len))
					bad += elk_wg_cookie_check_mac1(&c, buf, len) == -EBADMSG;
				else
					good += elk_wg_cookie_check_mac1(&c, buf, len) == 0;
			}
			T_EQ_INT(bad, ELK_WG_MAC2_OFFSET(len), "every flip before mac2 rejected");
			T_EQ_INT(good, ELK_WG_MAC_LEN, "mac2 flips do not touch mac1");
			T_EQ_INT(elk_wg_cookie_check_mac1(&c, ref, 35), -EINVAL, "too short");
		}
}

/* The reference cookie reply, consumed; then mac2 must match. */
static void test_cookie_known(void)
{
	struct elk_wg_cookie_maker m, saved;
	uint8_t init[ELK_WG_INITIATION_SIZE], bad[ELK_WG_COOKIE_REPLY_SIZE];
	const uint8_t *ref = vgetn("psk", "initiation", ELK_WG_INITIATION_SIZE);
	const uint8_t *reply = vgetn("cookie", "reply", ELK_WG_COOKIE_REPLY_SIZE);
	uint64_t now = 1000 * SEC;
	size_t i;
	int rejected = 0;

	T_EQ_INT(elk_wg_le32_get(reply), ELK_WG_MSG_COOKIE_REPLY, "reply type");
	T_EQ_MEM(reply + 4, ref + 4, 4, "reply receiver = initiation sender");

	elk_wg_cookie_maker_init(&m, vgetn("psk", "responder_static_pub", 32));
	T_EQ_INT(elk_wg_cookie_consume_reply(&m, reply, now), -ENOENT, "unsolicited reply");

	memcpy(init, ref, sizeof(init));
	elk_wg_cookie_add_macs(&m, init, sizeof(init), now);
	saved = m;
	for (i = 0; i < ELK_WG_COOKIE_REPLY_SIZE; i++) {
		int ret;

		if (i >= 4 && i < 8)
			continue;	/* the receiver index only routes the reply */
		memcpy(bad, reply, sizeof(bad));
		bad[i] ^= (uint8_t)(1u << (i % 8));
		ret = elk_wg_cookie_consume_reply(&m, bad, now);
		T_CHECK(ret == -EBADMSG, "reply byte %zu flipped: got %d", i, ret);
		rejected += ret == -EBADMSG;
	}
	T_EQ_INT(rejected, ELK_WG_COOKIE_REPLY_SIZE - 4, "reply flips rejected");
	T_CHECK(memcmp(&m, &saved, sizeof(m)) == 0, "bad replies changed nothing");

	T_EQ_INT(elk_wg_cookie_consume_reply(&m, reply, now), 0, "reference reply");
	T_EQ_MEM(m.cookie, vgetn("cookie", "cookie", 16), 16, "decrypted cookie");
	T_EQ_INT(elk_wg_cookie_consume_reply(&m, reply, now), -ENOENT, "reply accepted once");

	elk_wg_cookie_add_macs(&m, init, sizeof(init), now + 10 * SEC);
	T_EQ_MEM(init, ref, ELK_WG_MAC2_OFFSET(sizeof(init)), "mac1 unchanged");
	T_EQ_MEM(init + ELK_WG_MAC2_OFFSET(sizeof(init)), vgetn("cookie", "mac2", 16), 16,
		 "mac2 matches the reference");
}

/* ---- the DoS dance --------------------------------------------------- */

struct world {
	struct elk_wg_noise_identity idi, idr;
	struct elk_wg_noise_handshake hi, hr;
	struct elk_wg_cookie_checker checker;	/* responder's */
	struct elk_wg_cookie_maker maker;	/* initiator's, for the responder */
	uint64_t sec;
};

static const uint8_t src_a[] = { 192, 0, 2, 1, 0xca, 0x6c };
static const uint8_t src_b[] = { 192, 0, 2, 2, 0xca, 0x6c };
static const uint8_t src_a6[] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
				  0xca, 0x6c };

static void world_init(struct world *w)
{
	uint8_t k[32], pub[32];

	elk_wg_keypair_generate(k, pub);
	elk_wg_noise_identity_init(&w->idi, k);
	elk_wg_keypair_generate(k, pub);
	elk_wg_noise_identity_init(&w->idr, k);
	elk_wg_noise_handshake_init(&w->hi, &w->idi, w->idr.public_key, NULL);
	elk_wg_noise_handshake_init(&w->hr, &w->idr, w->idi.public_key, NULL);
	elk_wg_cookie_checker_init(&w->checker, w->idr.public_key);
	elk_wg_cookie_maker_init(&w->maker, w->idr.public_key);
	w->sec = 1700000000;
	sodium_memzero(k, sizeof(k));
}

static void world_initiation(struct world *w, uint8_t msg[ELK_WG_INITIATION_SIZE],
			     uint32_t sender, uint64_t now)
{
	uint8_t ts[12];

	elk_wg_tai64n(ts, w->sec++, 0);
	T_EQ_INT(elk_wg_noise_create_initiation(&w->hi, &w->idi, sender, ts, msg), 0, "initiation");
	T_EQ_INT(elk_wg_cookie_add_macs(&w->maker, msg, ELK_WG_INITIATION_SIZE, now), 0, "macs");
}

static void test_round_trip(void)
{
	struct world w;
	struct elk_wg_noise_initiation_ctx ctx;
	uint8_t msg[ELK_WG_INITIATION_SIZE], reply[ELK_WG_COOKIE_REPLY_SIZE];
	uint8_t reply2[ELK_WG_COOKIE_REPLY_SIZE];
	uint64_t now = 50 * SEC;
	const size_t len = ELK_WG_INITIATION_SIZE;

	world_init(&w);
	world_initiation(&w, msg, 0x5150, now);
	T_CHECK(sodium_is_zero(msg + ELK_WG_MAC2_OFFSET(len), 16), "no cookie yet: mac2 zero");
	T_EQ_INT(elk_wg_cookie_check_mac1(&w.checker, msg, len), 0, "mac1 ok");
	/* under load: no valid mac2, so answer with a cookie, not a DH */
	T_EQ_INT(elk_wg_cookie_check_mac2(&w.checker, msg, len, src_a, sizeof(src_a), now),
		 -EBADMSG, "zero mac2 refused");
	T_EQ_INT(elk_wg_cookie_create_reply(&w.checker, reply, msg, len, src_a, sizeof(src_a), now),
		 0, "cookie reply");
	T_EQ_INT(elk_wg_le32_get(reply), ELK_WG_MSG_COOKIE_REPLY, "reply type word");
	T_EQ_INT(elk_wg_le32_get(reply + 4), 0x5150, "reply receiver");
	T_EQ_INT(elk_wg_cookie_create_reply(&w.checker, reply2, msg, len, src_a, sizeof(src_a),
					    now), 0, "second reply");
	T_CHECK(memcmp(reply + 8, reply2 + 8, 24) != 0, "nonces are random");

	T_EQ_INT(elk_wg_cookie_consume_reply(&w.maker, reply, now + SEC / 10), 0, "consume reply");
	T_EQ_INT(elk_wg_cookie_consume_reply(&w.maker, reply2, now), -ENOENT,
		 "second reply to the same message ignored");

	world_initiation(&w, msg, 0x5151, now + SEC);
	T_CHECK(!sodium_is_zero(msg + ELK_WG_MAC2_OFFSET(len), 16), "mac2 now present");
	T_EQ_INT(elk_wg_cookie_check_mac1(&w.checker, msg, len), 0, "mac1 still ok");
	T_EQ_INT(elk_wg_cookie_check_mac2(&w.checker, msg, len, src_a, sizeof(src_a), now + SEC),
		 0, "mac2 valid from the cookie's address");
	T_EQ_INT(elk_wg_cookie_check_mac2(&w.checker, msg, len, src_b, sizeof(src_b), now + SEC),
		 -EBADMSG, "mac2 from another address");
	T_EQ_INT(elk_wg_cookie_check_mac2(&w.checker, msg, len, src_a6, sizeof(src_a6),
					  now + SEC), -EBADMSG, "mac2 from another family");
	msg[ELK_WG_MAC2_OFFSET(len)] ^= 1;
	T_EQ_INT(elk_wg_cookie_check_mac2(&w.checker, msg, len, src_a, sizeof(src_a), now + SEC),
		 -EBADMSG, "flipped mac2");
	msg[ELK_WG_MAC2_OFFSET(len)] ^= 1;
	/* the macs live outside Noise: the handshake goes through */
	T_EQ_INT(elk_wg_noise_consume_initiation_begin(&w.idr, msg, &ctx), 0, "noise begin");
	T_EQ_INT(elk_wg_noise_consume_initiation_finish(&w.hr, &w.idr, &ctx, now + SEC), 0,
		 "noise finish");

	/* a cookie earned at address B does not vouch for address A */
	world_initiation(&w, msg, 0x5152, now + 2 * SEC);
	T_EQ_INT(elk_wg_cookie_create_reply(&w.checker, reply, msg, len, src_b, sizeof(src_b),
					    now + 2 * SEC), 0, "reply for B");
	T_EQ_INT(elk_wg_cookie_consume_reply(&w.maker, reply, now + 2 * SEC), 0, "consume B");
	world_initiation(&w, msg, 0x5153, now + 3 * SEC);
	T_EQ_INT(elk_wg_cookie_check_mac2(&w.checker, msg, len, src_a, sizeof(src_a),
					  now + 3 * SEC), -EBADMSG, "B's cookie used from A");
	T_EQ_INT(elk_wg_cookie_check_mac2(&w.checker, msg, len, src_b, sizeof(src_b),
					  now + 3 * SEC), 0, "B's cookie used from B");

	/* a cookie reply to an older message is not accepted for a newer one */
	T_EQ_INT(elk_wg_cookie_create_reply(&w.checker, reply, msg, len, src_a, sizeof(src_a),
					    now + 3 * SEC), 0, "reply to 0x5153");
	world_initiation(&w, msg, 0x5154, now + 4 * SEC);
	T_EQ_INT(elk_wg_cookie_consume_reply(&w.maker, reply, now + 4 * SEC), -EBADMSG,
		 "reply to a superseded message");
	T_CHECK(w.maker.have_sent_mac1, "still waiting for the right reply");

	/* responses carry macs the same way, keyed by the initiator */
	{
		struct elk_wg_cookie_checker ci;
		struct elk_wg_cookie_maker mr;
		uint8_t resp[ELK_WG_RESPONSE_SIZE];

		elk_wg_cookie_checker_init(&ci, w.idi.public_key);
		elk_wg_cookie_maker_init(&mr, w.idi.public_key);
		T_EQ_INT(elk_wg_noise_create_response(&w.hr, &w.idr, 0x7777, resp), 0, "response");
		T_EQ_INT(elk_wg_cookie_add_macs(&mr, resp, sizeof(resp), now), 0, "response macs");
		T_EQ_INT(elk_wg_cookie_check_mac1(&ci, resp, sizeof(resp)), 0, "response mac1");
		T_EQ_INT(elk_wg_cookie_create_reply(&ci, reply, resp, sizeof(resp), src_a,
						    sizeof(src_a), now), 0, "reply to response");
		T_EQ_INT(elk_wg_le32_get(reply + 4), 0x7777, "receiver = responder's sender");
		T_EQ_INT(elk_wg_cookie_consume_reply(&mr, reply, now), 0, "responder gets cookie");
		T_EQ_INT(elk_wg_cookie_add_macs(&mr, resp, sizeof(resp), now), 0, "macs again");
		T_EQ_INT(elk_wg_cookie_check_mac2(&ci, resp, sizeof(resp), src_a, sizeof(src_a), now),
			 0, "response mac2");
	}
	T_EQ_INT(elk_wg_cookie_create_reply(&w.checker, reply, msg, 20, src_a, sizeof(src_a), now),
		 -EINVAL, "reply to a runt");
}

static void test_expiry(void)
{
	struct world w;
	uint8_t msg[ELK_WG_INITIATION_SIZE], reply[ELK_WG_COOKIE_REPLY_SIZE];
	const size_t len = ELK_WG_INITIATION_SIZE;
	const uint64_t t0 = 7 * SEC;
	const uint64_t keep = (ELK_WG_COOKIE_SECRET_MAX_AGE - ELK_WG_COOKIE_SECRET_LATENCY) * SEC;
	uint8_t secret[32];

	world_init(&w);
	world_initiation(&w, msg, 1, t0);
	elk_wg_cookie_create_reply(&w.checker, reply, msg, len, src_a, sizeof(src_a), t0);
	memcpy(secret, w.checker.secret, 32);
	T_EQ_INT(elk_wg_cookie_consume_reply(&w.maker, reply, t0), 0, "cookie at t0");

	/* the initiator trusts its cookie for MAX_AGE - LATENCY */
	world_initiation(&w, msg, 2, t0 + keep - 1);
	T_CHECK(!sodium_is_zero(msg + ELK_WG_MAC2_OFFSET(len), 16), "cookie still fresh");
	T_EQ_INT(elk_wg_cookie_check_mac2(&w.checker, msg, len, src_a, sizeof(src_a), t0 + keep - 1),
		 0, "fresh cookie accepted");
	world_initiation(&w, msg, 3, t0 + keep);
	T_CHECK(sodium_is_zero(msg + ELK_WG_MAC2_OFFSET(len), 16), "cookie aged out: mac2 zero");

	/* the responder's secret lives MAX_AGE, then a mac2 made with it dies */
	w.maker.cookie_birth_ns = t0 + 100 * SEC;	/* pretend the initiator kept it */
	world_initiation(&w, msg, 4, t0 + 119 * SEC);
	T_EQ_INT(elk_wg_cookie_check_mac2(&w.checker, msg, len, src_a, sizeof(src_a),
					  t0 + ELK_WG_COOKIE_SECRET_MAX_AGE * SEC - 1), 0,
		 "secret alive just before MAX_AGE");
	T_CHECK(memcmp(secret, w.checker.secret, 32) == 0, "secret not rotated yet");
	T_EQ_INT(elk_wg_cookie_check_mac2(&w.checker, msg, len, src_a, sizeof(src_a),
					  t0 + ELK_WG_COOKIE_SECRET_MAX_AGE * SEC), -EBADMSG,
		 "secret rotated at MAX_AGE");
	T_CHECK(memcmp(secret, w.checker.secret, 32) != 0, "secret changed");
	T_EQ_INT(w.checker.secret_birth_ns, t0 + ELK_WG_COOKIE_SECRET_MAX_AGE * SEC, "new birth");

	/* a clock that jumps back is treated as expiry, not as a fresh secret */
	memcpy(secret, w.checker.secret, 32);
	elk_wg_cookie_check_mac2(&w.checker, msg, len, src_a, sizeof(src_a), t0);
	T_CHECK(memcmp(secret, w.checker.secret, 32) != 0, "rotated on a backwards clock");

	elk_wg_cookie_checker_wipe(&w.checker);
	elk_wg_cookie_maker_wipe(&w.maker);
	T_CHECK(sodium_is_zero((const unsigned char *)&w.checker, sizeof(w.checker)) &&
		sodium_is_zero((const unsigned char *)&w.maker, sizeof(w.maker)), "wiped");
}

int main(int argc, char **argv)
{
	bool ok = true;

	if (argc > 1)
		vec_dir = argv[1];
	T_CHECK(sodium_init() >= 0, "sodium_init");
	ok &= load_vectors("hmac_blake2s.txt");
	ok &= load_vectors("wg_handshake.txt");
	/* without the vectors the checks below would compare against zeros */
	if (!ok) {
		free_vectors();
		return T_DONE();
	}

	test_keys();
	test_mac1_known();
	test_cookie_known();
	test_round_trip();
	test_expiry();

	free_vectors();
	return T_DONE();
}
