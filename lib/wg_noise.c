/* wg_noise.c - WireGuard's Noise_IKpsk2 handshake, as a pure core.
 *
 * Implements the whitepaper's §5.4: the primitive constructions of §5.4
 * (HMAC and KDF_n over BLAKE2s, the AEAD nonce layout), the initiator and
 * responder computations of §5.4.2 (message 1) and §5.4.3 (message 2), and
 * the transport key derivation of §5.4.5. The order of operations matches
 * the whitepaper step for step; the kernel's drivers/net/wireguard/noise.c
 * was consulted for the choices the paper leaves open (rejecting all-zero
 * DH results, a strictly-increasing timestamp, the initiation flood limit,
 * committing state only after a message fully authenticates).
 *
 * BLAKE2s comes from libb2, X25519 and (X)ChaCha20-Poly1305 from
 * libsodium; nothing here is a primitive of its own, only the HMAC/HKDF
 * glue the whitepaper defines on top of BLAKE2s.
 */
#include "wg_noise.h"

#include <errno.h>
#include <string.h>

#include <blake2.h>
#include <sodium.h>

/* ---- primitives ----------------------------------------------------- */

void elk_wg_hash(uint8_t out[ELK_WG_HASH_LEN], const void *a, size_t alen,
		 const void *b, size_t blen)
{
	blake2s_state st;

	blake2s_init(&st, ELK_WG_HASH_LEN);
	blake2s_update(&st, a, alen);
	if (blen)
		blake2s_update(&st, b, blen);
	blake2s_final(&st, out, ELK_WG_HASH_LEN);
	sodium_memzero(&st, sizeof(st));
}

void elk_wg_mac(uint8_t out[ELK_WG_MAC_LEN], const uint8_t *key, size_t keylen,
		const void *in, size_t inlen)
{
	blake2s_state st;

	blake2s_init_key(&st, ELK_WG_MAC_LEN, key, keylen);
	blake2s_update(&st, in, inlen);
	blake2s_final(&st, out, ELK_WG_MAC_LEN);
	sodium_memzero(&st, sizeof(st));
}

void elk_wg_hmac(uint8_t out[ELK_WG_HASH_LEN], const uint8_t *key, size_t keylen,
		 const void *in, size_t inlen)
{
	uint8_t k[ELK_WG_HMAC_BLOCK_LEN] = { 0 };
	uint8_t pad[ELK_WG_HMAC_BLOCK_LEN];
	uint8_t inner[ELK_WG_HASH_LEN];
	blake2s_state st;
	size_t i;

	/* RFC 2104: a key longer than a block is hashed first. WireGuard only
	 * ever keys with 32 bytes, but the construction stays complete. */
	if (keylen > sizeof(k))
		elk_wg_hash(k, key, keylen, NULL, 0);
	else if (keylen)
		memcpy(k, key, keylen);

	for (i = 0; i < sizeof(k); i++)
		pad[i] = k[i] ^ 0x36;
	blake2s_init(&st, ELK_WG_HASH_LEN);
	blake2s_update(&st, pad, sizeof(pad));
	blake2s_update(&st, in, inlen);
	blake2s_final(&st, inner, sizeof(inner));

	for (i = 0; i < sizeof(k); i++)
		pad[i] = k[i] ^ 0x5c;
	blake2s_init(&st, ELK_WG_HASH_LEN);
	blake2s_update(&st, pad, sizeof(pad));
	blake2s_update(&st, inner, sizeof(inner));
	blake2s_final(&st, out, ELK_WG_HASH_LEN);

	sodium_memzero(k, sizeof(k));
	sodium_memzero(pad, sizeof(pad));
	sodium_memzero(inner, sizeof(inner));
	sodium_memzero(&st, sizeof(st));
}

void elk_wg_kdf(uint8_t *t1, uint8_t *t2, uint8_t *t3,
		const uint8_t key[ELK_WG_HASH_LEN], const void *in, size_t inlen)
{
	uint8_t prk[ELK_WG_HASH_LEN];
	uint8_t t[3][ELK_WG_HASH_LEN];
	uint8_t buf[ELK_WG_HASH_LEN + 1];
	uint8_t *outs[3] = { t1, t2, t3 };
	int i;

	/* Outputs are built in locals and copied at the end because callers
	 * routinely pass the chaining key as both key and t1. */
	elk_wg_hmac(prk, key, ELK_WG_HASH_LEN, in, inlen);
	buf[0] = 1;
	elk_wg_hmac(t[0], prk, sizeof(prk), buf, 1);
	for (i = 1; i < 3 && outs[i]; i++) {
		memcpy(buf, t[i - 1], ELK_WG_HASH_LEN);
		buf[ELK_WG_HASH_LEN] = (uint8_t)(i + 1);
		elk_wg_hmac(t[i], prk, sizeof(prk), buf, sizeof(buf));
	}
	for (i = 0; i < 3 && outs[i]; i++)
		memcpy(outs[i], t[i], ELK_WG_HASH_LEN);

	sodium_memzero(prk, sizeof(prk));
	sodium_memzero(t, sizeof(t));
	sodium_memzero(buf, sizeof(buf));
}

/* §5.4: the 96-bit ChaCha20 nonce is 32 zero bits then the 64-bit counter,
 * little-endian. */
static void aead_nonce(uint8_t nonce[ELK_WG_AEAD_NONCE_LEN], uint64_t counter)
{
	memset(nonce, 0, 4);
	elk_wg_le64_put(nonce + 4, counter);
}

void elk_wg_aead_encrypt(uint8_t *out, const uint8_t *plain, size_t len,
			 const uint8_t *ad, size_t adlen, uint64_t counter,
			 const uint8_t key[ELK_WG_KEY_LEN])
{
	uint8_t nonce[ELK_WG_AEAD_NONCE_LEN];

	aead_nonce(nonce, counter);
	crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, plain, len, ad, adlen,
						  NULL, nonce, key);
}

int elk_wg_aead_decrypt(uint8_t *out, const uint8_t *ct, size_t ctlen,
			const uint8_t *ad, size_t adlen, uint64_t counter,
			const uint8_t key[ELK_WG_KEY_LEN])
{
	uint8_t nonce[ELK_WG_AEAD_NONCE_LEN];

	if (ctlen < ELK_WG_AUTHTAG_LEN)
		return -EBADMSG;
	aead_nonce(nonce, counter);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, ct, ctlen,
						      ad, adlen, nonce, key))
		return -EBADMSG;
	return 0;
}

void elk_wg_xaead_encrypt(uint8_t *out, const uint8_t *plain, size_t len,
			  const uint8_t *ad, size_t adlen,
			  const uint8_t nonce[ELK_WG_XAEAD_NONCE_LEN],
			  const uint8_t key[ELK_WG_KEY_LEN])
{
	crypto_aead_xchacha20poly1305_ietf_encrypt(out, NULL, plain, len, ad, adlen,
						   NULL, nonce, key);
}

int elk_wg_xaead_decrypt(uint8_t *out, const uint8_t *ct, size_t ctlen,
			 const uint8_t *ad, size_t adlen,
			 const uint8_t nonce[ELK_WG_XAEAD_NONCE_LEN],
			 const uint8_t key[ELK_WG_KEY_LEN])
{
	if (ctlen < ELK_WG_AUTHTAG_LEN)
		return -EBADMSG;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, NULL, NULL, ct, ctlen,
						       ad, adlen, nonce, key))
		return -EBADMSG;
	return 0;
}

int elk_wg_dh(uint8_t out[ELK_WG_KEY_LEN], const uint8_t priv[ELK_WG_KEY_LEN],
	      const uint8_t pub[ELK_WG_KEY_LEN])
{
	/* libsodium fails on an all-zero result (a low-order point), which
	 * is exactly the kernel's rejection rule; make sure no partial
	 * output survives either way. */
	if (crypto_scalarmult_curve25519(out, priv, pub) ||
	    sodium_is_zero(out, ELK_WG_KEY_LEN)) {
		sodium_memzero(out, ELK_WG_KEY_LEN);
		return -EKEYREJECTED;
	}
	return 0;
}

int elk_wg_pubkey(uint8_t pub[ELK_WG_KEY_LEN], const uint8_t priv[ELK_WG_KEY_LEN])
{
	if (crypto_scalarmult_curve25519_base(pub, priv))
		return -EKEYREJECTED;
	return 0;
}

static int sodium_ready(void)
{
	return sodium_init() < 0 ? -EIO : 0;
}

static void clamp(uint8_t k[ELK_WG_KEY_LEN])
{
	k[0] &= 248;
	k[31] = (k[31] & 127) | 64;
}

int elk_wg_keypair_generate(uint8_t priv[ELK_WG_KEY_LEN], uint8_t pub[ELK_WG_KEY_LEN])
{
	int ret = sodium_ready();

	if (ret)
		return ret;
	randombytes_buf(priv, ELK_WG_KEY_LEN);
	clamp(priv);
	return elk_wg_pubkey(pub, priv);
}

/* The kernel rounds to the largest power of two not above
 * NSEC_PER_SEC / INITIATIONS_PER_SECOND (2e7 ns): that is 2^24. */
#define TAI64N_NSEC_GRAIN	(1u << 24)
_Static_assert(TAI64N_NSEC_GRAIN <= ELK_WG_NSEC_PER_SEC / ELK_WG_INITIATIONS_PER_SECOND &&
	       2ull * TAI64N_NSEC_GRAIN > ELK_WG_NSEC_PER_SEC / ELK_WG_INITIATIONS_PER_SECOND,
	       "TAI64N grain");

void elk_wg_tai64n(uint8_t out[ELK_WG_TIMESTAMP_LEN], uint64_t unix_sec, uint32_t nsec)
{
	uint64_t sec = ELK_WG_TAI64_BASE + unix_sec;
	int i;

	nsec &= ~(TAI64N_NSEC_GRAIN - 1);
	for (i = 0; i < 8; i++)
		out[i] = (uint8_t)(sec >> (56 - 8 * i));
	for (i = 0; i < 4; i++)
		out[8 + i] = (uint8_t)(nsec >> (24 - 8 * i));
}

void elk_wg_noise_initial_chaining_key(uint8_t out[ELK_WG_HASH_LEN])
{
	elk_wg_hash(out, ELK_WG_CONSTRUCTION, strlen(ELK_WG_CONSTRUCTION), NULL, 0);
}

void elk_wg_noise_initial_hash(uint8_t out[ELK_WG_HASH_LEN])
{
	uint8_t ck[ELK_WG_HASH_LEN];

	elk_wg_noise_initial_chaining_key(ck);
	elk_wg_hash(out, ck, sizeof(ck), ELK_WG_IDENTIFIER, strlen(ELK_WG_IDENTIFIER));
}

/* ---- identity and per-peer state ------------------------------------ */

int elk_wg_noise_identity_init(struct elk_wg_noise_identity *id,
			       const uint8_t private_key[ELK_WG_KEY_LEN])
{
	uint8_t h0[ELK_WG_HASH_LEN];
	int ret;

	sodium_memzero(id, sizeof(*id));
	ret = sodium_ready();
	if (ret)
		return ret;
	if (sodium_is_zero(private_key, ELK_WG_KEY_LEN))
		return -EINVAL;
	memcpy(id->private_key, private_key, ELK_WG_KEY_LEN);
	clamp(id->private_key);
	ret = elk_wg_pubkey(id->public_key, id->private_key);
	if (ret) {
		sodium_memzero(id, sizeof(*id));
		return ret;
	}
	elk_wg_noise_initial_hash(h0);
	elk_wg_hash(id->responder_hash, h0, sizeof(h0), id->public_key, ELK_WG_KEY_LEN);
	id->has_identity = true;
	return 0;
}

void elk_wg_noise_identity_wipe(struct elk_wg_noise_identity *id)
{
	sodium_memzero(id, sizeof(*id));
}

void elk_wg_noise_handshake_clear(struct elk_wg_noise_handshake *hs)
{
	hs->state = ELK_WG_HANDSHAKE_ZEROED;
	sodium_memzero(hs->ephemeral_private, sizeof(hs->ephemeral_private));
	sodium_memzero(hs->remote_ephemeral, sizeof(hs->remote_ephemeral));
	sodium_memzero(hs->chaining_key, sizeof(hs->chaining_key));
	sodium_memzero(hs->hash, sizeof(hs->hash));
	hs->local_index = 0;
	hs->remote_index = 0;
}

void elk_wg_noise_handshake_wipe(struct elk_wg_noise_handshake *hs)
{
	sodium_memzero(hs, sizeof(*hs));
}

int elk_wg_noise_handshake_update_identity(struct elk_wg_noise_handshake *hs,
					  const struct elk_wg_noise_identity *id)
{
	elk_wg_noise_handshake_clear(hs);
	sodium_memzero(hs->precomputed_static_static, ELK_WG_KEY_LEN);
	if (!id->has_identity)
		return -EINVAL;
	return elk_wg_dh(hs->precomputed_static_static, id->private_key, hs->remote_static);
}

int elk_wg_noise_handshake_init(struct elk_wg_noise_handshake *hs,
				const struct elk_wg_noise_identity *id,
				const uint8_t remote_static[ELK_WG_KEY_LEN],
				const uint8_t psk[ELK_WG_KEY_LEN])
{
	uint8_t h0[ELK_WG_HASH_LEN];
	int ret;

	sodium_memzero(hs, sizeof(*hs));
	ret = sodium_ready();
	if (ret)
		return ret;
	memcpy(hs->remote_static, remote_static, ELK_WG_KEY_LEN);
	elk_wg_noise_handshake_set_psk(hs, psk);
	elk_wg_noise_initial_hash(h0);
	elk_wg_hash(hs->initiator_hash, h0, sizeof(h0), remote_static, ELK_WG_KEY_LEN);
	return elk_wg_noise_handshake_update_identity(hs, id);
}

void elk_wg_noise_handshake_set_psk(struct elk_wg_noise_handshake *hs,
				    const uint8_t psk[ELK_WG_KEY_LEN])
{
	if (psk)
		memcpy(hs->preshared_key, psk, ELK_WG_KEY_LEN);
	else
		sodium_memzero(hs->preshared_key, ELK_WG_KEY_LEN);
}

void elk_wg_noise_handshake_set_next_ephemeral(struct elk_wg_noise_handshake *hs,
					       const uint8_t priv[ELK_WG_KEY_LEN])
{
	memcpy(hs->next_ephemeral, priv, ELK_WG_KEY_LEN);
	hs->have_next_ephemeral = true;
}

static int ephemeral_generate(struct elk_wg_noise_handshake *hs,
			      uint8_t priv[ELK_WG_KEY_LEN], uint8_t pub[ELK_WG_KEY_LEN])
{
	if (!hs->have_next_ephemeral)
		return elk_wg_keypair_generate(priv, pub);
	memcpy(priv, hs->next_ephemeral, ELK_WG_KEY_LEN);
	sodium_memzero(hs->next_ephemeral, ELK_WG_KEY_LEN);
	hs->have_next_ephemeral = false;
	return elk_wg_pubkey(pub, priv);
}

/* Ck := KDF1(Ck, e); H := HASH(H || e): the "e" token of both messages. */
static void mix_ephemeral(uint8_t ck[ELK_WG_HASH_LEN], uint8_t h[ELK_WG_HASH_LEN],
			  const uint8_t e[ELK_WG_KEY_LEN])
{
	elk_wg_kdf(ck, NULL, NULL, ck, e, ELK_WG_KEY_LEN);
	elk_wg_hash(h, h, ELK_WG_HASH_LEN, e, ELK_WG_KEY_LEN);
}

static void mix_hash(uint8_t h[ELK_WG_HASH_LEN], const uint8_t *in, size_t len)
{
	elk_wg_hash(h, h, ELK_WG_HASH_LEN, in, len);
}

/* ---- message 1 ------------------------------------------------------ */

int elk_wg_noise_create_initiation(struct elk_wg_noise_handshake *hs,
				   const struct elk_wg_noise_identity *id,
				   uint32_t sender_index,
				   const uint8_t timestamp[ELK_WG_TIMESTAMP_LEN],
				   uint8_t out[ELK_WG_INITIATION_SIZE])
{
	struct elk_wg_msg_initiation *m = (struct elk_wg_msg_initiation *)out;
	uint8_t ck[ELK_WG_HASH_LEN], h[ELK_WG_HASH_LEN], key[ELK_WG_KEY_LEN];
	uint8_t e_priv[ELK_WG_KEY_LEN], dh[ELK_WG_KEY_LEN];
	int ret;

	if (!id->has_identity)
		return -EINVAL;
	if (sodium_is_zero(hs->precomputed_static_static, ELK_WG_KEY_LEN))
		return -EKEYREJECTED;
	elk_wg_noise_handshake_clear(hs);
	memset(out, 0, ELK_WG_INITIATION_SIZE);
	elk_wg_le32_put(m->type, ELK_WG_MSG_HANDSHAKE_INITIATION);
	elk_wg_le32_put(m->sender, sender_index);

	elk_wg_noise_initial_chaining_key(ck);
	memcpy(h, hs->initiator_hash, sizeof(h));

	ret = ephemeral_generate(hs, e_priv, m->unencrypted_ephemeral);
	if (ret)
		goto out;
	mix_ephemeral(ck, h, m->unencrypted_ephemeral);

	/* es */
	ret = elk_wg_dh(dh, e_priv, hs->remote_static);
	if (ret)
		goto out;
	elk_wg_kdf(ck, key, NULL, ck, dh, sizeof(dh));
	elk_wg_aead_encrypt(m->encrypted_static, id->public_key, ELK_WG_KEY_LEN,
			    h, sizeof(h), 0, key);
	mix_hash(h, m->encrypted_static, sizeof(m->encrypted_static));

	/* ss */
	elk_wg_kdf(ck, key, NULL, ck, hs->precomputed_static_static, ELK_WG_KEY_LEN);
	elk_wg_aead_encrypt(m->encrypted_timestamp, timestamp, ELK_WG_TIMESTAMP_LEN,
			    h, sizeof(h), 0, key);
	mix_hash(h, m->encrypted_timestamp, sizeof(m->encrypted_timestamp));

	memcpy(hs->ephemeral_private, e_priv, sizeof(e_priv));
	memcpy(hs->chaining_key, ck, sizeof(ck));
	memcpy(hs->hash, h, sizeof(h));
	hs->local_index = sender_index;
	hs->state = ELK_WG_HANDSHAKE_CREATED_INITIATION;
out:
	if (ret)
		memset(out, 0, ELK_WG_INITIATION_SIZE);
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(h, sizeof(h));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(e_priv, sizeof(e_priv));
	sodium_memzero(dh, sizeof(dh));
	return ret;
}

int elk_wg_noise_consume_initiation_begin(const struct elk_wg_noise_identity *id,
					  const uint8_t msg[ELK_WG_INITIATION_SIZE],
					  struct elk_wg_noise_initiation_ctx *ctx)
{
	const struct elk_wg_msg_initiation *m = (const struct elk_wg_msg_initiation *)msg;
	uint8_t ck[ELK_WG_HASH_LEN], h[ELK_WG_HASH_LEN], key[ELK_WG_KEY_LEN];
	uint8_t dh[ELK_WG_KEY_LEN], s[ELK_WG_KEY_LEN];
	int ret;

	sodium_memzero(ctx, sizeof(*ctx));
	if (!id->has_identity)
		return -EINVAL;
	if (elk_wg_le32_get(m->type) != ELK_WG_MSG_HANDSHAKE_INITIATION)
		return -EBADMSG;

	elk_wg_noise_initial_chaining_key(ck);
	memcpy(h, id->responder_hash, sizeof(h));
	mix_ephemeral(ck, h, m->unencrypted_ephemeral);

	/* es: a low-order ephemeral is the sender's fault, so it is a bad
	 * message rather than a key problem of ours */
	ret = elk_wg_dh(dh, id->private_key, m->unencrypted_ephemeral) ? -EBADMSG : 0;
	if (ret)
		goto out;
	elk_wg_kdf(ck, key, NULL, ck, dh, sizeof(dh));
	ret = elk_wg_aead_decrypt(s, m->encrypted_static, sizeof(m->encrypted_static),
				  h, sizeof(h), 0, key);
	if (ret)
		goto out;
	mix_hash(h, m->encrypted_static, sizeof(m->encrypted_static));

	memcpy(ctx->remote_static, s, sizeof(s));
	ctx->remote_index = elk_wg_le32_get(m->sender);
	memcpy(ctx->remote_ephemeral, m->unencrypted_ephemeral, ELK_WG_KEY_LEN);
	memcpy(ctx->chaining_key, ck, sizeof(ck));
	memcpy(ctx->hash, h, sizeof(h));
	memcpy(ctx->encrypted_timestamp, m->encrypted_timestamp,
	       sizeof(ctx->encrypted_timestamp));
	ctx->valid = true;
out:
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(h, sizeof(h));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(dh, sizeof(dh));
	sodium_memzero(s, sizeof(s));
	return ret;
}

int elk_wg_noise_consume_initiation_finish(struct elk_wg_noise_handshake *hs,
					   const struct elk_wg_noise_identity *id,
					   struct elk_wg_noise_initiation_ctx *ctx,
					   uint64_t now_ns)
{
	uint8_t ck[ELK_WG_HASH_LEN], h[ELK_WG_HASH_LEN], key[ELK_WG_KEY_LEN];
	uint8_t t[ELK_WG_TIMESTAMP_LEN];
	bool replay, flood;
	int ret;

	if (!ctx->valid || !id->has_identity) {
		ret = -EINVAL;
		goto out;
	}
	/* The caller looked the peer up by ctx->remote_static; a mismatch
	 * is its bug, but checking is cheaper than debugging it. */
	if (sodium_memcmp(hs->remote_static, ctx->remote_static, ELK_WG_KEY_LEN)) {
		ret = -EINVAL;
		goto out;
	}
	if (sodium_is_zero(hs->precomputed_static_static, ELK_WG_KEY_LEN)) {
		ret = -EKEYREJECTED;
		goto out;
	}
	memcpy(ck, ctx->chaining_key, sizeof(ck));
	memcpy(h, ctx->hash, sizeof(h));

	/* ss */
	elk_wg_kdf(ck, key, NULL, ck, hs->precomputed_static_static, ELK_WG_KEY_LEN);
	ret = elk_wg_aead_decrypt(t, ctx->encrypted_timestamp,
				  sizeof(ctx->encrypted_timestamp), h, sizeof(h), 0, key);
	if (ret)
		goto out;
	mix_hash(h, ctx->encrypted_timestamp, sizeof(ctx->encrypted_timestamp));

	/* TAI64N is big-endian, so byte order is time order. Only now, with
	 * the timestamp authenticated, may it touch the peer's state. */
	replay = memcmp(t, hs->latest_timestamp, sizeof(t)) <= 0;
	flood = hs->have_consumed_initiation &&
		now_ns - hs->last_initiation_consumption_ns <
			ELK_WG_NSEC_PER_SEC / ELK_WG_INITIATIONS_PER_SECOND;
	if (replay) {
		ret = -ESTALE;
		goto out;
	}
	if (flood) {
		ret = -EBUSY;
		goto out;
	}

	memcpy(hs->latest_timestamp, t, sizeof(t));
	hs->last_initiation_consumption_ns = now_ns;
	hs->have_consumed_initiation = true;

	elk_wg_noise_handshake_clear(hs);
	memcpy(hs->remote_ephemeral, ctx->remote_ephemeral, ELK_WG_KEY_LEN);
	memcpy(hs->chaining_key, ck, sizeof(ck));
	memcpy(hs->hash, h, sizeof(h));
	hs->remote_index = ctx->remote_index;
	hs->state = ELK_WG_HANDSHAKE_CONSUMED_INITIATION;
out:
	sodium_memzero(ctx, sizeof(*ctx));
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(h, sizeof(h));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(t, sizeof(t));
	return ret;
}

/* ---- message 2 ------------------------------------------------------ */

/* The tail both sides run identically after the DHs: mix in the psk,
 * Ck, τ, k := KDF3(Ck, Q); H := HASH(H || τ). */
static void mix_psk(uint8_t ck[ELK_WG_HASH_LEN], uint8_t h[ELK_WG_HASH_LEN],
		    uint8_t key[ELK_WG_KEY_LEN], const uint8_t psk[ELK_WG_KEY_LEN])
{
	uint8_t tau[ELK_WG_HASH_LEN];

	elk_wg_kdf(ck, tau, key, ck, psk, ELK_WG_KEY_LEN);
	mix_hash(h, tau, sizeof(tau));
	sodium_memzero(tau, sizeof(tau));
}

int elk_wg_noise_create_response(struct elk_wg_noise_handshake *hs,
				 const struct elk_wg_noise_identity *id,
				 uint32_t sender_index,
				 uint8_t out[ELK_WG_RESPONSE_SIZE])
{
	struct elk_wg_msg_response *m = (struct elk_wg_msg_response *)out;
	uint8_t ck[ELK_WG_HASH_LEN], h[ELK_WG_HASH_LEN], key[ELK_WG_KEY_LEN];
	uint8_t e_priv[ELK_WG_KEY_LEN], dh[ELK_WG_KEY_LEN];
	int ret;

	if (!id->has_identity || hs->state != ELK_WG_HANDSHAKE_CONSUMED_INITIATION)
		return -EINVAL;
	memset(out, 0, ELK_WG_RESPONSE_SIZE);
	elk_wg_le32_put(m->type, ELK_WG_MSG_HANDSHAKE_RESPONSE);
	elk_wg_le32_put(m->sender, sender_index);
	elk_wg_le32_put(m->receiver, hs->remote_index);
	memcpy(ck, hs->chaining_key, sizeof(ck));
	memcpy(h, hs->hash, sizeof(h));

	ret = ephemeral_generate(hs, e_priv, m->unencrypted_ephemeral);
	if (ret)
		goto out;
	mix_ephemeral(ck, h, m->unencrypted_ephemeral);

	/* ee */
	ret = elk_wg_dh(dh, e_priv, hs->remote_ephemeral) ? -EBADMSG : 0;
	if (ret)
		goto out;
	elk_wg_kdf(ck, NULL, NULL, ck, dh, sizeof(dh));
	/* se */
	ret = elk_wg_dh(dh, e_priv, hs->remote_static);
	if (ret)
		goto out;
	elk_wg_kdf(ck, NULL, NULL, ck, dh, sizeof(dh));

	mix_psk(ck, h, key, hs->preshared_key);
	elk_wg_aead_encrypt(m->encrypted_nothing, NULL, 0, h, sizeof(h), 0, key);
	mix_hash(h, m->encrypted_nothing, sizeof(m->encrypted_nothing));

	/* The responder's ephemeral is needed for nothing after this. */
	memcpy(hs->chaining_key, ck, sizeof(ck));
	memcpy(hs->hash, h, sizeof(h));
	hs->local_index = sender_index;
	hs->state = ELK_WG_HANDSHAKE_CREATED_RESPONSE;
out:
	if (ret)
		memset(out, 0, ELK_WG_RESPONSE_SIZE);
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(h, sizeof(h));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(e_priv, sizeof(e_priv));
	sodium_memzero(dh, sizeof(dh));
	return ret;
}

int elk_wg_noise_consume_response(struct elk_wg_noise_handshake *hs,
				  const struct elk_wg_noise_identity *id,
				  const uint8_t msg[ELK_WG_RESPONSE_SIZE])
{
	const struct elk_wg_msg_response *m = (const struct elk_wg_msg_response *)msg;
	uint8_t ck[ELK_WG_HASH_LEN], h[ELK_WG_HASH_LEN], key[ELK_WG_KEY_LEN];
	uint8_t dh[ELK_WG_KEY_LEN];
	uint8_t nothing[1];
	int ret;

	if (elk_wg_le32_get(m->type) != ELK_WG_MSG_HANDSHAKE_RESPONSE)
		return -EBADMSG;
	if (!id->has_identity || hs->state != ELK_WG_HANDSHAKE_CREATED_INITIATION)
		return -EINVAL;
	if (elk_wg_le32_get(m->receiver) != hs->local_index)
		return -ENOENT;
	memcpy(ck, hs->chaining_key, sizeof(ck));
	memcpy(h, hs->hash, sizeof(h));

	mix_ephemeral(ck, h, m->unencrypted_ephemeral);
	/* ee */
	ret = elk_wg_dh(dh, hs->ephemeral_private, m->unencrypted_ephemeral) ? -EBADMSG : 0;
	if (ret)
		goto out;
	elk_wg_kdf(ck, NULL, NULL, ck, dh, sizeof(dh));
	/* se */
	ret = elk_wg_dh(dh, id->private_key, m->unencrypted_ephemeral) ? -EBADMSG : 0;
	if (ret)
		goto out;
	elk_wg_kdf(ck, NULL, NULL, ck, dh, sizeof(dh));

	mix_psk(ck, h, key, hs->preshared_key);
	/* a real (unused) buffer: libsodium wants one even for 0 bytes */
	ret = elk_wg_aead_decrypt(nothing, m->encrypted_nothing, sizeof(m->encrypted_nothing),
				  h, sizeof(h), 0, key);
	if (ret)
		goto out;
	mix_hash(h, m->encrypted_nothing, sizeof(m->encrypted_nothing));

	sodium_memzero(hs->ephemeral_private, ELK_WG_KEY_LEN);
	memcpy(hs->remote_ephemeral, m->unencrypted_ephemeral, ELK_WG_KEY_LEN);
	memcpy(hs->chaining_key, ck, sizeof(ck));
	memcpy(hs->hash, h, sizeof(h));
	hs->remote_index = elk_wg_le32_get(m->sender);
	hs->state = ELK_WG_HANDSHAKE_CONSUMED_RESPONSE;
out:
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(h, sizeof(h));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(dh, sizeof(dh));
	return ret;
}

/* ---- §5.4.5 transport keys ------------------------------------------ */

int elk_wg_noise_derive_keypair(struct elk_wg_noise_handshake *hs,
				struct elk_wg_noise_keypair *kp)
{
	uint8_t t1[ELK_WG_KEY_LEN], t2[ELK_WG_KEY_LEN];
	bool initiator;

	if (hs->state == ELK_WG_HANDSHAKE_CONSUMED_RESPONSE)
		initiator = true;
	else if (hs->state == ELK_WG_HANDSHAKE_CREATED_RESPONSE)
		initiator = false;
	else
		return -EINVAL;

	elk_wg_kdf(t1, t2, NULL, hs->chaining_key, NULL, 0);
	memcpy(kp->send_key, initiator ? t1 : t2, ELK_WG_KEY_LEN);
	memcpy(kp->recv_key, initiator ? t2 : t1, ELK_WG_KEY_LEN);
	kp->local_index = hs->local_index;
	kp->remote_index = hs->remote_index;
	kp->is_initiator = initiator;

	elk_wg_noise_handshake_clear(hs);
	sodium_memzero(t1, sizeof(t1));
	sodium_memzero(t2, sizeof(t2));
	return 0;
}
