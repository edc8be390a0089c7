/* test_wg_noise.c - unit tests for lib/wg_noise.c (whitepaper §5.4).
 *
 * Known answers for every primitive as wg_noise.c uses it, read from
 * tests/vectors/ (each file's header names its source: RFCs 7693, 7748,
 * 8439, draft-irtf-cfrg-xchacha-03, and values computed independently with
 * Python's hashlib/hmac and pyca/cryptography); two complete handshakes
 * checked byte for byte against an independent Python transcription of the
 * whitepaper; then in-memory handshakes, tampering, replay, flood and state
 * misuse. Run from the repo root, or pass the vectors directory as argv[1].
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "t.h"
#include "wg_noise.h"

#include "vec.h"

/* ---- primitives ------------------------------------------------------ */

static void test_blake2s(void)
{
	static const char *sects[] = { "rfc7693-abc", "hash-empty", "hash-long" };
	uint8_t out[32];
	size_t i, n;

	for (i = 0; i < sizeof(sects) / sizeof(sects[0]); i++) {
		const uint8_t *in = vget(sects[i], "in", &n);

		elk_wg_hash(out, in, n, NULL, 0);
		T_EQ_MEM(out, vgetn(sects[i], "out", 32), 32, "HASH [%s]", sects[i]);
		/* HASH(a || b) must not care where the split falls */
		if (n > 1) {
			elk_wg_hash(out, in, n / 2, in + n / 2, n - n / 2);
			T_EQ_MEM(out, vgetn(sects[i], "out", 32), 32, "HASH split [%s]", sects[i]);
		}
	}

	{
		static const char *macs[] = { "mac-32-byte-key", "mac-16-byte-key" };

		for (i = 0; i < 2; i++) {
			size_t kl;
			const uint8_t *key = vget(macs[i], "key", &kl);
			const uint8_t *in = vget(macs[i], "in", &n);
			uint8_t mac[16];

			elk_wg_mac(mac, key, kl, in, n);
			T_EQ_MEM(mac, vgetn(macs[i], "out", 16), 16, "MAC [%s]", macs[i]);
		}
	}
}

static void test_hmac_kdf(void)
{
	static const char *sects[] = { "hmac-32", "hmac-64", "hmac-100" };
	uint8_t out[32], t1[32], t2[32], t3[32];
	size_t i, kl, n;

	for (i = 0; i < 3; i++) {
		const uint8_t *key = vget(sects[i], "key", &kl);
		const uint8_t *in = vget(sects[i], "in", &n);

		elk_wg_hmac(out, key, kl, in, n);
		T_EQ_MEM(out, vgetn(sects[i], "out", 32), 32, "HMAC [%s]", sects[i]);
	}

	for (i = 0; i < 2; i++) {
		const char *s = i ? "kdf-empty" : "kdf";
		const uint8_t *key = vgetn(s, "key", 32);
		const uint8_t *in = vget(s, "in", &n);

		elk_wg_kdf(t1, t2, t3, key, in, n);
		T_EQ_MEM(t1, vgetn(s, "t1", 32), 32, "KDF3 t1 [%s]", s);
		T_EQ_MEM(t2, vgetn(s, "t2", 32), 32, "KDF3 t2 [%s]", s);
		T_EQ_MEM(t3, vgetn(s, "t3", 32), 32, "KDF3 t3 [%s]", s);

		/* KDF1/KDF2 are prefixes of KDF3, and the key may be an output */
		memcpy(t1, key, 32);
		memset(t2, 0xaa, 32);
		elk_wg_kdf(t1, NULL, NULL, t1, in, n);
		T_EQ_MEM(t1, vgetn(s, "t1", 32), 32, "KDF1 in place [%s]", s);
		memcpy(t2, key, 32);
		elk_wg_kdf(t2, t3, NULL, t2, in, n);
		T_EQ_MEM(t2, vgetn(s, "t1", 32), 32, "KDF2 t1 in place [%s]", s);
		T_EQ_MEM(t3, vgetn(s, "t2", 32), 32, "KDF2 t2 [%s]", s);
	}
}

static void test_x25519(void)
{
	uint8_t out[32], pub[32];
	static const uint8_t low_order[3][32] = {
		{ 0 },					/* 0: order 2 */
		{ 1 },					/* 1: order 4 */
		{ 0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,	/* p - 1: order 2 */
		  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
	};
	const char *s;
	int i;

	for (i = 1; i <= 2; i++) {
		char sect[32];

		snprintf(sect, sizeof(sect), "rfc7748-5.2-%d", i);
		T_EQ_INT(elk_wg_dh(out, vgetn(sect, "scalar", 32), vgetn(sect, "u", 32)), 0, sect);
		T_EQ_MEM(out, vgetn(sect, "out", 32), 32, "X25519 [%s]", sect);
	}

	s = "rfc7748-6.1";
	T_EQ_INT(elk_wg_pubkey(pub, vgetn(s, "alice_priv", 32)), 0, "alice pub");
	T_EQ_MEM(pub, vgetn(s, "alice_pub", 32), 32, "alice public key");
	T_EQ_INT(elk_wg_pubkey(pub, vgetn(s, "bob_priv", 32)), 0, "bob pub");
	T_EQ_MEM(pub, vgetn(s, "bob_pub", 32), 32, "bob public key");
	T_EQ_INT(elk_wg_dh(out, vgetn(s, "alice_priv", 32), vgetn(s, "bob_pub", 32)), 0, "dh a");
	T_EQ_MEM(out, vgetn(s, "shared", 32), 32, "alice's shared secret");
	T_EQ_INT(elk_wg_dh(out, vgetn(s, "bob_priv", 32), vgetn(s, "alice_pub", 32)), 0, "dh b");
	T_EQ_MEM(out, vgetn(s, "shared", 32), 32, "bob's shared secret");

	/* all-zero results are refused, and leave no partial output */
	for (i = 0; i < 3; i++) {
		memset(out, 0x55, sizeof(out));
		T_EQ_INT(elk_wg_dh(out, vgetn(s, "alice_priv", 32), low_order[i]),
			 -EKEYREJECTED, "low-order point rejected");
		T_CHECK(sodium_is_zero(out, 32), "low-order output wiped (%d)", i);
	}

	/* generated keys are clamped and agree */
	{
		uint8_t a[32], ap[32], b[32], bp[32], s1[32], s2[32];

		T_EQ_INT(elk_wg_keypair_generate(a, ap), 0, "generate a");
		T_EQ_INT(elk_wg_keypair_generate(b, bp), 0, "generate b");
		T_CHECK((a[0] & 7) == 0 && (a[31] & 0xc0) == 0x40, "generated key clamped");
		T_EQ_INT(elk_wg_dh(s1, a, bp), 0, "dh1");
		T_EQ_INT(elk_wg_dh(s2, b, ap), 0, "dh2");
		T_EQ_MEM(s1, s2, 32, "generated keys agree");
	}
}

static void test_aead(void)
{
	const char *s = "rfc8439-2.8.2";
	uint8_t buf[256], pt[256];
	unsigned long long clen;
	size_t pl, al, cl;
	const uint8_t *plain, *aad, *ct;
	uint64_t counter;

	/* RFC 8439's nonce is not of WireGuard's shape, so this one checks
	 * the library itself ... */
	plain = vget(s, "plain", &pl);
	aad = vget(s, "aad", &al);
	ct = vget(s, "ct", &cl);
	T_CHECK(cl == pl + 16 && cl <= sizeof(buf), "rfc8439 sizes");
	crypto_aead_chacha20poly1305_ietf_encrypt(buf, &clen, plain, pl, aad, al, NULL,
						  vgetn(s, "nonce", 12), vgetn(s, "key", 32));
	T_EQ_INT(clen, cl, "rfc8439 length");
	T_EQ_MEM(buf, ct, cl, "ChaCha20-Poly1305 RFC 8439 §2.8.2");

	/* ... and this one our 4-zero-bytes + le64 counter nonce */
	s = "wg-counter";
	plain = vget(s, "plain", &pl);
	aad = vget(s, "aad", &al);
	ct = vget(s, "ct", &cl);
	counter = elk_wg_le64_get(vgetn(s, "counter", 8));
	T_EQ_INT(counter, 0x0102030405060708ULL, "counter decoding");
	elk_wg_aead_encrypt(buf, plain, pl, aad, al, counter, vgetn(s, "key", 32));
	T_EQ_MEM(buf, ct, cl, "AEAD with WireGuard counter nonce");
	T_EQ_INT(elk_wg_aead_decrypt(pt, ct, cl, aad, al, counter, vgetn(s, "key", 32)), 0,
		 "AEAD decrypt");
	T_EQ_MEM(pt, plain, pl, "AEAD round trip");
	T_EQ_INT(elk_wg_aead_decrypt(pt, ct, cl, aad, al, counter + 1, vgetn(s, "key", 32)),
		 -EBADMSG, "AEAD wrong counter");
	T_EQ_INT(elk_wg_aead_decrypt(pt, ct, 15, aad, al, counter, vgetn(s, "key", 32)),
		 -EBADMSG, "AEAD shorter than a tag");

	s = "draft-a.3.1";
	plain = vget(s, "plain", &pl);
	aad = vget(s, "aad", &al);
	ct = vget(s, "ct", &cl);
	elk_wg_xaead_encrypt(buf, plain, pl, aad, al, vgetn(s, "nonce", 24), vgetn(s, "key", 32));
	T_EQ_MEM(buf, ct, cl, "XChaCha20-Poly1305 draft §A.3.1");
	T_EQ_INT(elk_wg_xaead_decrypt(pt, ct, cl, aad, al, vgetn(s, "nonce", 24),
				      vgetn(s, "key", 32)), 0, "XAEAD decrypt");
	T_EQ_MEM(pt, plain, pl, "XAEAD round trip");
	memcpy(buf, ct, cl);
	buf[cl - 1] ^= 1;
	T_EQ_INT(elk_wg_xaead_decrypt(pt, buf, cl, aad, al, vgetn(s, "nonce", 24),
				      vgetn(s, "key", 32)), -EBADMSG, "XAEAD bad tag");
}

static void test_tai64n(void)
{
	uint8_t a[12], b[12];

	elk_wg_tai64n(a, 1700000000, 123456789);
	T_EQ_MEM(a, vgetn("psk", "timestamp", 12), 12, "TAI64N encoding");
	/* whitening: anything within one 2^24 ns grain encodes the same */
	elk_wg_tai64n(b, 1700000000, 7u << 24);
	T_EQ_MEM(a, b, 12, "TAI64N grain");
	elk_wg_tai64n(b, 1700000000, (8u << 24) - 1);
	T_EQ_MEM(a, b, 12, "TAI64N grain top");
	/* and byte order is time order */
	elk_wg_tai64n(b, 1700000000, 8u << 24);
	T_CHECK(memcmp(a, b, 12) < 0, "TAI64N later nanoseconds sort later");
	elk_wg_tai64n(b, 1700000001, 0);
	T_CHECK(memcmp(a, b, 12) < 0, "TAI64N later second sorts later");
	elk_wg_tai64n(a, 0, 0);
	T_CHECK(a[0] == 0x40 && a[7] == 0x0a, "TAI64N epoch label 2^62 + 10");
}

static void test_constants(void)
{
	uint8_t ck[32], h[32], expect[32];
	struct elk_wg_noise_identity id;
	size_t n;

	const uint8_t *v;

	v = vget("initial", "construction", &n);
	T_EQ_INT(n, strlen(ELK_WG_CONSTRUCTION), "CONSTRUCTION length");
	T_EQ_MEM(ELK_WG_CONSTRUCTION, v, n, "CONSTRUCTION");
	v = vget("initial", "identifier", &n);
	T_EQ_INT(n, strlen(ELK_WG_IDENTIFIER), "IDENTIFIER length");
	T_EQ_MEM(ELK_WG_IDENTIFIER, v, n, "IDENTIFIER");
	elk_wg_noise_initial_chaining_key(ck);
	T_EQ_MEM(ck, vgetn("initial", "chaining_key", 32), 32, "InitialChainingKey");
	elk_wg_noise_initial_hash(h);
	T_EQ_MEM(h, vgetn("initial", "hash", 32), 32, "InitialHash");

	T_EQ_INT(elk_wg_noise_identity_init(&id, vgetn("psk", "responder_static_priv", 32)), 0,
		 "identity");
	T_EQ_MEM(id.public_key, vgetn("psk", "responder_static_pub", 32), 32, "identity public");
	elk_wg_hash(expect, vgetn("initial", "hash", 32), 32, id.public_key, 32);
	T_EQ_MEM(id.responder_hash, expect, 32, "precomputed responder hash");

	T_EQ_INT(ELK_WG_REJECT_AFTER_MESSAGES, 0xffffffffffffdfffULL, "REJECT_AFTER_MESSAGES");
	T_EQ_INT(ELK_WG_REKEY_AFTER_MESSAGES, 1ULL << 60, "REKEY_AFTER_MESSAGES");
	T_EQ_INT(ELK_WG_MAX_TIMER_HANDSHAKES, 18, "MAX_TIMER_HANDSHAKES");
	elk_wg_noise_identity_wipe(&id);
	T_CHECK(!id.has_identity && sodium_is_zero(id.private_key, 32), "identity wiped");
}

/* ---- handshakes ------------------------------------------------------ */

/* Handshake bytes before mac1: all that Noise itself produces. */
#define INIT_NOISE_LEN	ELK_WG_MAC1_OFFSET(ELK_WG_INITIATION_SIZE)
#define RESP_NOISE_LEN	ELK_WG_MAC1_OFFSET(ELK_WG_RESPONSE_SIZE)

static void test_known_handshake(const char *s)
{
	struct elk_wg_noise_identity idi, idr;
	struct elk_wg_noise_handshake hi, hr;
	struct elk_wg_noise_initiation_ctx ctx;
	struct elk_wg_noise_keypair ki, kr;
	uint8_t init[ELK_WG_INITIATION_SIZE], resp[ELK_WG_RESPONSE_SIZE];
	uint32_t ii = elk_wg_le32_get(vgetn(s, "initiator_index", 4));
	uint32_t ir = elk_wg_le32_get(vgetn(s, "responder_index", 4));
	const uint8_t *psk = vgetn(s, "psk", 32);

	T_EQ_INT(elk_wg_noise_identity_init(&idi, vgetn(s, "initiator_static_priv", 32)), 0, "idi");
	T_EQ_INT(elk_wg_noise_identity_init(&idr, vgetn(s, "responder_static_priv", 32)), 0, "idr");
	T_EQ_MEM(idi.public_key, vgetn(s, "initiator_static_pub", 32), 32, "[%s] Spub_i", s);
	T_EQ_INT(elk_wg_noise_handshake_init(&hi, &idi, idr.public_key,
					     sodium_is_zero(psk, 32) ? NULL : psk), 0, "hi");
	T_EQ_INT(elk_wg_noise_handshake_init(&hr, &idr, idi.public_key, psk), 0, "hr");

	elk_wg_noise_handshake_set_next_ephemeral(&hi, vgetn(s, "initiator_ephemeral_priv", 32));
	T_EQ_INT(elk_wg_noise_create_initiation(&hi, &idi, ii, vgetn(s, "timestamp", 12), init), 0,
		 "create initiation");
	T_EQ_MEM(init, vgetn(s, "initiation", 148), INIT_NOISE_LEN,
		 "[%s] initiation bytes match the independent implementation", s);
	T_CHECK(sodium_is_zero(init + INIT_NOISE_LEN, 32), "[%s] macs left to the cookie layer", s);
	T_CHECK(!hi.have_next_ephemeral && sodium_is_zero(hi.next_ephemeral, 32),
		"[%s] test ephemeral used once", s);

	/* the responder consumes the reference bytes, not ours */
	T_EQ_INT(elk_wg_noise_consume_initiation_begin(&idr, vgetn(s, "initiation", 148), &ctx), 0,
		 "consume initiation begin");
	T_EQ_MEM(ctx.remote_static, idi.public_key, 32, "[%s] initiator identified", s);
	T_EQ_INT(ctx.remote_index, ii, "initiator index");
	T_EQ_INT(elk_wg_noise_consume_initiation_finish(&hr, &idr, &ctx, 1000), 0,
		 "consume initiation finish");
	T_CHECK(!ctx.valid, "ctx wiped");
	T_EQ_MEM(hr.latest_timestamp, vgetn(s, "timestamp", 12), 12, "timestamp recorded");

	elk_wg_noise_handshake_set_next_ephemeral(&hr, vgetn(s, "responder_ephemeral_priv", 32));
	T_EQ_INT(elk_wg_noise_create_response(&hr, &idr, ir, resp), 0, "create response");
	T_EQ_MEM(resp, vgetn(s, "response", 92), RESP_NOISE_LEN,
		 "[%s] response bytes match the independent implementation", s);

	T_EQ_INT(elk_wg_noise_consume_response(&hi, &idi, vgetn(s, "response", 92)), 0,
		 "consume response");
	T_EQ_INT(elk_wg_noise_derive_keypair(&hi, &ki), 0, "derive initiator");
	T_EQ_INT(elk_wg_noise_derive_keypair(&hr, &kr), 0, "derive responder");
	T_EQ_MEM(ki.send_key, vgetn(s, "initiator_send", 32), 32, "[%s] T_send_i", s);
	T_EQ_MEM(ki.recv_key, vgetn(s, "initiator_recv", 32), 32, "[%s] T_recv_i", s);
	T_EQ_MEM(kr.send_key, ki.recv_key, 32, "[%s] T_send_r = T_recv_i", s);
	T_EQ_MEM(kr.recv_key, ki.send_key, 32, "[%s] T_recv_r = T_send_i", s);
	T_CHECK(ki.is_initiator && !kr.is_initiator, "roles");
	T_EQ_INT(ki.local_index, ii, "initiator local index");
	T_EQ_INT(ki.remote_index, ir, "initiator remote index");
	T_EQ_INT(kr.local_index, ir, "responder local index");
	T_EQ_INT(kr.remote_index, ii, "responder remote index");
}

struct pair {
	struct elk_wg_noise_identity idi, idr;
	struct elk_wg_noise_handshake hi, hr;	/* hi: initiator's view of r */
	uint8_t ts[12];
	uint64_t sec;
};

static void pair_init(struct pair *p, const uint8_t *psk_i, const uint8_t *psk_r)
{
	uint8_t k[32], pub[32];

	elk_wg_keypair_generate(k, pub);
	T_EQ_INT(elk_wg_noise_identity_init(&p->idi, k), 0, "random idi");
	elk_wg_keypair_generate(k, pub);
	T_EQ_INT(elk_wg_noise_identity_init(&p->idr, k), 0, "random idr");
	T_EQ_INT(elk_wg_noise_handshake_init(&p->hi, &p->idi, p->idr.public_key, psk_i), 0, "hi");
	T_EQ_INT(elk_wg_noise_handshake_init(&p->hr, &p->idr, p->idi.public_key, psk_r), 0, "hr");
	p->sec = 1700000000;
	sodium_memzero(k, sizeof(k));
}

static void pair_initiation(struct pair *p, uint8_t init[ELK_WG_INITIATION_SIZE])
{
	elk_wg_tai64n(p->ts, p->sec++, 0);
	T_EQ_INT(elk_wg_noise_create_initiation(&p->hi, &p->idi, 7, p->ts, init), 0, "initiation");
}

/* Responder side of message 1; returns the first error. */
static int consume_init(struct pair *p, const uint8_t *init, uint64_t now)
{
	struct elk_wg_noise_initiation_ctx ctx;
	int ret = elk_wg_noise_consume_initiation_begin(&p->idr, init, &ctx);

	if (ret)
		return ret;
	return elk_wg_noise_consume_initiation_finish(&p->hr, &p->idr, &ctx, now);
}

static void test_random_handshake(bool with_psk)
{
	struct pair p;
	uint8_t psk[32], init[148], resp[92];
	struct elk_wg_noise_keypair ki, kr;
	uint8_t ct[64], pt[48];
	static const uint8_t msg[] = "hello through the tunnel";

	randombytes_buf(psk, sizeof(psk));
	pair_init(&p, with_psk ? psk : NULL, with_psk ? psk : NULL);
	pair_initiation(&p, init);
	T_EQ_INT(consume_init(&p, init, 0), 0, "consume");
	T_EQ_INT(elk_wg_noise_create_response(&p.hr, &p.idr, 0xdeadbeef, resp), 0, "response");
	T_EQ_INT(elk_wg_le32_get(resp + 8), 7, "response receiver = initiator's sender");
	T_EQ_INT(elk_wg_noise_consume_response(&p.hi, &p.idi, resp), 0, "consume response");
	T_EQ_INT(elk_wg_noise_derive_keypair(&p.hi, &ki), 0, "derive i");
	T_EQ_INT(elk_wg_noise_derive_keypair(&p.hr, &kr), 0, "derive r");
	T_EQ_MEM(ki.send_key, kr.recv_key, 32, "psk=%d: i->r key", with_psk);
	T_EQ_MEM(ki.recv_key, kr.send_key, 32, "psk=%d: r->i key", with_psk);
	T_CHECK(memcmp(ki.send_key, ki.recv_key, 32) != 0, "directions differ");
	T_EQ_INT(ki.remote_index, 0xdeadbeef, "i remote index");
	T_EQ_INT(kr.remote_index, 7, "r remote index");

	/* the derived keys actually carry data (counter nonce both ways) */
	elk_wg_aead_encrypt(ct, msg, sizeof(msg), NULL, 0, 0, ki.send_key);
	T_EQ_INT(elk_wg_aead_decrypt(pt, ct, sizeof(msg) + 16, NULL, 0, 0, kr.recv_key), 0,
		 "transport decrypt");
	T_EQ_MEM(pt, msg, sizeof(msg), "transport round trip");

	/* the in-flight handshake is gone once keys exist */
	T_CHECK(p.hi.state == ELK_WG_HANDSHAKE_ZEROED &&
		sodium_is_zero(p.hi.chaining_key, 32) && sodium_is_zero(p.hi.hash, 32) &&
		sodium_is_zero(p.hi.ephemeral_private, 32), "initiator handshake wiped");
	T_CHECK(p.hr.state == ELK_WG_HANDSHAKE_ZEROED &&
		sodium_is_zero(p.hr.chaining_key, 32) && sodium_is_zero(p.hr.hash, 32),
		"responder handshake wiped");
	T_EQ_INT(elk_wg_noise_derive_keypair(&p.hi, &ki), -EINVAL, "derive twice");
}

static void test_psk_mismatch(void)
{
	struct pair p;
	uint8_t psk1[32], psk2[32], init[148], resp[92];
	struct elk_wg_noise_handshake saved;
	struct elk_wg_noise_keypair ki;

	randombytes_buf(psk1, 32);
	randombytes_buf(psk2, 32);
	pair_init(&p, psk1, psk2);
	pair_initiation(&p, init);
	/* the psk only enters at message 2, so the responder cannot tell */
	T_EQ_INT(consume_init(&p, init, 0), 0, "consume with other psk");
	T_EQ_INT(elk_wg_noise_create_response(&p.hr, &p.idr, 9, resp), 0, "response");
	saved = p.hi;
	T_EQ_INT(elk_wg_noise_consume_response(&p.hi, &p.idi, resp), -EBADMSG, "psk mismatch");
	T_CHECK(memcmp(&saved, &p.hi, sizeof(saved)) == 0, "failed response left state alone");
	T_EQ_INT(elk_wg_noise_derive_keypair(&p.hi, &ki), -EINVAL, "no keys after failure");

	/* psk present on one side only also fails */
	pair_init(&p, psk1, NULL);
	pair_initiation(&p, init);
	T_EQ_INT(consume_init(&p, init, 0), 0, "consume");
	T_EQ_INT(elk_wg_noise_create_response(&p.hr, &p.idr, 9, resp), 0, "response");
	T_EQ_INT(elk_wg_noise_consume_response(&p.hi, &p.idi, resp), -EBADMSG, "one-sided psk");
}

static void test_tamper(void)
{
	struct pair p;
	uint8_t init[148], bad[148], resp[92], badr[92];
	struct elk_wg_noise_handshake saved;
	size_t i;
	int rejected = 0, ok_sender = 0;

	pair_init(&p, NULL, NULL);
	pair_initiation(&p, init);
	for (i = 0; i < INIT_NOISE_LEN; i++) {
		int ret;

		memcpy(bad, init, sizeof(bad));
		bad[i] ^= (uint8_t)(1u << (i % 8));
		ret = consume_init(&p, bad, 0);
		if (i >= 4 && i < 8) {
			/* the sender index is covered only by mac1 */
			ok_sender += ret == 0;
			p.hr.have_consumed_initiation = false;
			memset(p.hr.latest_timestamp, 0, 12);
			continue;
		}
		T_CHECK(ret == -EBADMSG, "initiation byte %zu flipped: got %d", i, ret);
		rejected += ret == -EBADMSG;
	}
	T_EQ_INT(rejected, INIT_NOISE_LEN - 4, "initiation bytes rejected");
	T_EQ_INT(ok_sender, 4, "sender flips pass the Noise layer");
	/* a low-order ephemeral is refused before any decryption */
	memcpy(bad, init, sizeof(bad));
	memset(bad + 8, 0, 32);
	T_EQ_INT(consume_init(&p, bad, 0), -EBADMSG, "zero ephemeral");
	/* none of that poisoned the peer: the genuine message still works */
	T_EQ_INT(consume_init(&p, init, 0), 0, "genuine initiation after tampering");

	T_EQ_INT(elk_wg_noise_create_response(&p.hr, &p.idr, 0x01020304, resp), 0, "response");
	saved = p.hi;
	rejected = 0;
	for (i = 0; i < RESP_NOISE_LEN; i++) {
		int ret, want;

		memcpy(badr, resp, sizeof(badr));
		badr[i] ^= (uint8_t)(1u << (i % 8));
		ret = elk_wg_noise_consume_response(&p.hi, &p.idi, badr);
		if (i >= 4 && i < 8) {
			/* sender index: mac1's business; undo the acceptance */
			T_EQ_INT(ret, 0, "response sender flip passes Noise");
			p.hi = saved;
			continue;
		}
		want = i >= 8 && i < 12 ? -ENOENT : -EBADMSG;
		T_CHECK(ret == want, "response byte %zu flipped: got %d want %d", i, ret, want);
		T_CHECK(memcmp(&saved, &p.hi, sizeof(saved)) == 0, "state kept (byte %zu)", i);
		rejected += ret == want;
	}
	T_EQ_INT(rejected, RESP_NOISE_LEN - 4, "response bytes rejected");
	memcpy(badr, resp, sizeof(badr));
	memset(badr + 12, 0, 32);
	T_EQ_INT(elk_wg_noise_consume_response(&p.hi, &p.idi, badr), -EBADMSG, "zero ephemeral r");
	T_EQ_INT(elk_wg_noise_consume_response(&p.hi, &p.idi, resp), 0, "genuine response");
}

static void test_replay_and_flood(void)
{
	struct pair p;
	uint8_t init1[148], init2[148], init3[148], old[148];
	const uint64_t gap = ELK_WG_NSEC_PER_SEC / ELK_WG_INITIATIONS_PER_SECOND;
	uint64_t now = 5 * ELK_WG_NSEC_PER_SEC;

	pair_init(&p, NULL, NULL);
	elk_wg_tai64n(p.ts, 1700000000, 0);
	T_EQ_INT(elk_wg_noise_create_initiation(&p.hi, &p.idi, 1, p.ts, old), 0, "old");
	elk_wg_tai64n(p.ts, 1700000010, 0);
	T_EQ_INT(elk_wg_noise_create_initiation(&p.hi, &p.idi, 2, p.ts, init1), 0, "init1");
	/* same timestamp, fresh ephemeral: a different message, still stale */
	T_EQ_INT(elk_wg_noise_create_initiation(&p.hi, &p.idi, 3, p.ts, init2), 0, "init2");
	elk_wg_tai64n(p.ts, 1700000011, 0);
	T_EQ_INT(elk_wg_noise_create_initiation(&p.hi, &p.idi, 4, p.ts, init3), 0, "init3");

	T_EQ_INT(consume_init(&p, init1, now), 0, "first");
	T_EQ_INT(consume_init(&p, init1, now + 10 * gap), -ESTALE, "replayed initiation");
	T_EQ_INT(consume_init(&p, init2, now + 10 * gap), -ESTALE, "equal timestamp");
	T_EQ_INT(consume_init(&p, old, now + 10 * gap), -ESTALE, "older timestamp");
	T_EQ_INT(consume_init(&p, init3, now + gap - 1), -EBUSY, "too soon after the last");
	T_EQ_INT(consume_init(&p, init3, now + gap), 0, "newer, in time");
	T_EQ_INT(p.hr.remote_index, 4, "newest initiation won");
}

static void test_misuse(void)
{
	struct pair p, q;
	struct elk_wg_noise_identity none;
	struct elk_wg_noise_handshake hs;
	struct elk_wg_noise_initiation_ctx ctx;
	struct elk_wg_noise_keypair kp;
	uint8_t zero[32] = { 0 }, init[148], resp[92];

	T_EQ_INT(elk_wg_noise_identity_init(&none, zero), -EINVAL, "zero private key");
	T_CHECK(!none.has_identity, "no identity");

	pair_init(&p, NULL, NULL);
	T_EQ_INT(elk_wg_noise_create_initiation(&p.hi, &none, 1, p.ts, init), -EINVAL,
		 "initiation without identity");
	T_EQ_INT(elk_wg_noise_create_response(&p.hr, &p.idr, 1, resp), -EINVAL,
		 "response before initiation");
	T_EQ_INT(elk_wg_noise_derive_keypair(&p.hr, &kp), -EINVAL, "keys before handshake");

	/* a low-order peer key: accepted into config, never usable */
	T_EQ_INT(elk_wg_noise_handshake_init(&hs, &p.idi, zero, NULL), -EKEYREJECTED,
		 "low-order peer");
	T_EQ_INT(elk_wg_noise_create_initiation(&hs, &p.idi, 1, p.ts, init), -EKEYREJECTED,
		 "initiation to low-order peer");

	pair_initiation(&p, init);
	/* wrong message type for the function */
	T_EQ_INT(elk_wg_noise_consume_response(&p.hi, &p.idi, init), -EBADMSG, "type 1 as response");
	/* the responder would look the peer up; handing it the wrong one fails */
	pair_init(&q, NULL, NULL);
	T_EQ_INT(elk_wg_noise_consume_initiation_begin(&p.idr, init, &ctx), 0, "begin");
	T_EQ_INT(elk_wg_noise_consume_initiation_finish(&q.hr, &p.idr, &ctx, 0), -EINVAL,
		 "finish on another peer");
	T_CHECK(!ctx.valid, "ctx wiped on failure");
	T_EQ_INT(elk_wg_noise_consume_initiation_finish(&p.hr, &p.idr, &ctx, 0), -EINVAL,
		 "finish with a spent ctx");
	/* an initiation addressed to someone else is unreadable to us */
	T_EQ_INT(elk_wg_noise_consume_initiation_begin(&q.idr, init, &ctx), -EBADMSG,
		 "initiation for another responder");

	/* responder state cannot consume responses */
	T_EQ_INT(consume_init(&p, init, 0), 0, "consume");
	T_EQ_INT(elk_wg_noise_create_response(&p.hr, &p.idr, 3, resp), 0, "response");
	T_EQ_INT(elk_wg_noise_consume_response(&p.hr, &p.idr, resp), -EINVAL,
		 "responder consuming a response");

	/* a new initiation supersedes the pending one: old response dead */
	pair_initiation(&p, init);
	T_EQ_INT(elk_wg_noise_consume_response(&p.hi, &p.idi, resp), -EBADMSG,
		 "response to a superseded initiation");

	/* our key changes: the precomputed static-static DH must follow */
	{
		uint8_t k[32], pub[32], ss[32];

		elk_wg_keypair_generate(k, pub);
		T_EQ_INT(elk_wg_noise_identity_init(&q.idi, k), 0, "new identity");
		T_EQ_INT(elk_wg_noise_handshake_update_identity(&q.hi, &q.idi), 0, "update identity");
		elk_wg_dh(ss, k, q.hi.remote_static);
		T_EQ_MEM(q.hi.precomputed_static_static, ss, 32, "static-static recomputed");
		T_EQ_INT(elk_wg_noise_handshake_update_identity(&q.hi, &none), -EINVAL,
			 "update to no identity");
		T_CHECK(sodium_is_zero(q.hi.precomputed_static_static, 32), "old DH dropped");
	}

	elk_wg_noise_handshake_wipe(&p.hi);
	T_CHECK(sodium_is_zero((const unsigned char *)&p.hi, sizeof(p.hi)), "handshake wiped");
}

int main(int argc, char **argv)
{
	bool ok = true;

	if (argc > 1)
		vec_dir = argv[1];
	T_CHECK(sodium_init() >= 0, "sodium_init");
	ok &= load_vectors("blake2s.txt");
	ok &= load_vectors("hmac_blake2s.txt");
	ok &= load_vectors("x25519.txt");
	ok &= load_vectors("chacha20poly1305.txt");
	ok &= load_vectors("xchacha20poly1305.txt");
	ok &= load_vectors("wg_handshake.txt");
	/* without the vectors the checks below would compare against zeros */
	if (!ok) {
		free_vectors();
		return T_DONE();
	}

	test_blake2s();
	test_hmac_kdf();
	test_x25519();
	test_aead();
	test_tai64n();
	test_constants();
	test_known_handshake("psk");
	test_known_handshake("no-psk");
	test_random_handshake(false);
	test_random_handshake(true);
	test_psk_mismatch();
	test_tamper();
	test_replay_and_flood();
	test_misuse();

	free_vectors();
	return T_DONE();
}
