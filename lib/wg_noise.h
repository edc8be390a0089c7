/* wg_noise.h - the Noise_IKpsk2 handshake of WireGuard, as a pure core.
 *
 * Implements the whitepaper's §5.4 (handshake messages 1 and 2 and the
 * derivation of transport keys, §5.4.5) on top of the primitives of §5.4
 * "Protocol & Cryptography": HASH = BLAKE2s-256, MAC = keyed BLAKE2s-128,
 * HMAC over BLAKE2s, KDF_n (HKDF with that HMAC), AEAD = ChaCha20-Poly1305
 * with a 64-bit counter nonce, XAEAD = XChaCha20-Poly1305, DH = X25519.
 *
 * No I/O, no clocks, no peer tables: the caller passes sender indices,
 * TAI64N timestamps and "now", and looks peers up itself (the responder's
 * first step hands back the initiator's static key for that). Randomness
 * (ephemeral keys) comes from libsodium unless a test sets one explicitly.
 * mac1/mac2 are not touched here: see wg_cookie.h.
 *
 * Nothing here locks: the caller serialises access to one handshake (and
 * must not change an identity while handshakes use it).
 *
 * Functions that can fail return 0 or a negative errno:
 *   -EINVAL	  bad arguments / no identity / wrong handshake state
 *   -EBADMSG	  message malformed or failed authentication
 *   -ESTALE	  initiation replayed (timestamp not strictly newer)
 *   -EBUSY	  initiations from this peer arrive faster than allowed
 *   -EKEYREJECTED a configured key gives an all-zero (low-order) DH result
 *   -ENOENT	  response not addressed to this handshake
 */
#ifndef ELK_WG_NOISE_H
#define ELK_WG_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wg_proto.h"

/* ---- primitives as the whitepaper defines them ---------------------- */

/* HASH(a || b); b may be NULL with blen 0. */
void elk_wg_hash(uint8_t out[ELK_WG_HASH_LEN], const void *a, size_t alen,
		 const void *b, size_t blen);
/* MAC(key, in): keyed BLAKE2s with a 16-byte output; keylen 1..32. */
void elk_wg_mac(uint8_t out[ELK_WG_MAC_LEN], const uint8_t *key, size_t keylen,
		const void *in, size_t inlen);
/* HMAC(key, in) with BLAKE2s-256 and a 64-byte block; keylen <= 64. */
void elk_wg_hmac(uint8_t out[ELK_WG_HASH_LEN], const uint8_t *key, size_t keylen,
		 const void *in, size_t inlen);
/* KDF_n(key, in): fills t1, t2, t3 in order; trailing ones may be NULL. */
void elk_wg_kdf(uint8_t *t1, uint8_t *t2, uint8_t *t3,
		const uint8_t key[ELK_WG_HASH_LEN], const void *in, size_t inlen);
/* AEAD(key, counter, plain, ad): out gets len + 16 bytes. */
void elk_wg_aead_encrypt(uint8_t *out, const uint8_t *plain, size_t len,
			 const uint8_t *ad, size_t adlen, uint64_t counter,
			 const uint8_t key[ELK_WG_KEY_LEN]);
/* Inverse of the above; ctlen includes the tag. -EBADMSG on failure. */
int elk_wg_aead_decrypt(uint8_t *out, const uint8_t *ct, size_t ctlen,
			const uint8_t *ad, size_t adlen, uint64_t counter,
			const uint8_t key[ELK_WG_KEY_LEN]);
void elk_wg_xaead_encrypt(uint8_t *out, const uint8_t *plain, size_t len,
			  const uint8_t *ad, size_t adlen,
			  const uint8_t nonce[ELK_WG_XAEAD_NONCE_LEN],
			  const uint8_t key[ELK_WG_KEY_LEN]);
int elk_wg_xaead_decrypt(uint8_t *out, const uint8_t *ct, size_t ctlen,
			 const uint8_t *ad, size_t adlen,
			 const uint8_t nonce[ELK_WG_XAEAD_NONCE_LEN],
			 const uint8_t key[ELK_WG_KEY_LEN]);
/* DH(priv, pub); -EKEYREJECTED if the result is all zero. */
int elk_wg_dh(uint8_t out[ELK_WG_KEY_LEN], const uint8_t priv[ELK_WG_KEY_LEN],
	      const uint8_t pub[ELK_WG_KEY_LEN]);
/* DH-PUBKEY; clamps nothing in place (X25519 clamps internally). */
int elk_wg_pubkey(uint8_t pub[ELK_WG_KEY_LEN], const uint8_t priv[ELK_WG_KEY_LEN]);
/* DH-GENERATE: a fresh clamped private key and its public key. */
int elk_wg_keypair_generate(uint8_t priv[ELK_WG_KEY_LEN], uint8_t pub[ELK_WG_KEY_LEN]);
/* TAI64N of a wall-clock time. The nanoseconds are rounded down to a power
 * of two no finer than 1/INITIATIONS_PER_SECOND so the timestamp does not
 * leak a precise clock; monotonicity across calls is the caller's job. */
void elk_wg_tai64n(uint8_t out[ELK_WG_TIMESTAMP_LEN], uint64_t unix_sec, uint32_t nsec);

/* InitialChainingKey = HASH(CONSTRUCTION), InitialHash = HASH(Ci || IDENTIFIER). */
void elk_wg_noise_initial_chaining_key(uint8_t out[ELK_WG_HASH_LEN]);
void elk_wg_noise_initial_hash(uint8_t out[ELK_WG_HASH_LEN]);

/* ---- handshake ------------------------------------------------------ */

struct elk_wg_noise_identity {
	uint8_t private_key[ELK_WG_KEY_LEN];
	uint8_t public_key[ELK_WG_KEY_LEN];
	/* HASH(InitialHash || public_key): h once the responder's static key
	 * is mixed in, i.e. where every initiation addressed to us starts. */
	uint8_t responder_hash[ELK_WG_HASH_LEN];
	bool has_identity;
};

enum elk_wg_handshake_state {
	ELK_WG_HANDSHAKE_ZEROED = 0,
	ELK_WG_HANDSHAKE_CREATED_INITIATION,
	ELK_WG_HANDSHAKE_CONSUMED_INITIATION,
	ELK_WG_HANDSHAKE_CREATED_RESPONSE,
	ELK_WG_HANDSHAKE_CONSUMED_RESPONSE,
};

/* One per peer. The configuration part lives as long as the peer; the
 * in-flight part is wiped whenever a handshake ends or restarts. */
struct elk_wg_noise_handshake {
	/* configuration */
	uint8_t remote_static[ELK_WG_KEY_LEN];
	uint8_t preshared_key[ELK_WG_KEY_LEN];		/* all zero if none */
	uint8_t precomputed_static_static[ELK_WG_KEY_LEN]; /* zero: unusable */
	uint8_t initiator_hash[ELK_WG_HASH_LEN];	/* HASH(InitialHash || remote_static) */
	/* replay and flood protection, kept across handshakes */
	uint8_t latest_timestamp[ELK_WG_TIMESTAMP_LEN];
	uint64_t last_initiation_consumption_ns;
	bool have_consumed_initiation;

	/* in flight */
	enum elk_wg_handshake_state state;
	uint8_t ephemeral_private[ELK_WG_KEY_LEN];
	uint8_t remote_ephemeral[ELK_WG_KEY_LEN];
	uint8_t chaining_key[ELK_WG_HASH_LEN];
	uint8_t hash[ELK_WG_HASH_LEN];
	uint32_t local_index;
	uint32_t remote_index;

	/* test hook: used (then wiped) instead of a random ephemeral */
	uint8_t next_ephemeral[ELK_WG_KEY_LEN];
	bool have_next_ephemeral;
};

/* Scratch between the two steps of consuming an initiation. */
struct elk_wg_noise_initiation_ctx {
	uint8_t remote_static[ELK_WG_KEY_LEN];		/* the initiator: look it up */
	uint32_t remote_index;
	uint8_t remote_ephemeral[ELK_WG_KEY_LEN];
	uint8_t chaining_key[ELK_WG_HASH_LEN];
	uint8_t hash[ELK_WG_HASH_LEN];
	uint8_t encrypted_timestamp[ELK_WG_ENCRYPTED_LEN(ELK_WG_TIMESTAMP_LEN)];
	bool valid;
};

struct elk_wg_noise_keypair {
	uint8_t send_key[ELK_WG_KEY_LEN];
	uint8_t recv_key[ELK_WG_KEY_LEN];
	uint32_t local_index;		/* receiver index on packets to us */
	uint32_t remote_index;		/* receiver index on packets we send */
	bool is_initiator;
};

/* A zero private key means "no identity" (as in the kernel): -EINVAL. */
int elk_wg_noise_identity_init(struct elk_wg_noise_identity *id,
			       const uint8_t private_key[ELK_WG_KEY_LEN]);
void elk_wg_noise_identity_wipe(struct elk_wg_noise_identity *id);

/* psk may be NULL for "no preshared key". A remote static key that gives a
 * zero DH with our private key yields -EKEYREJECTED, yet hs is initialised
 * all the same (the kernel keeps such peers): every handshake with it will
 * fail with -EKEYREJECTED. */
int elk_wg_noise_handshake_init(struct elk_wg_noise_handshake *hs,
				const struct elk_wg_noise_identity *id,
				const uint8_t remote_static[ELK_WG_KEY_LEN],
				const uint8_t psk[ELK_WG_KEY_LEN]);
/* Recompute the static-static DH after the local identity changed. */
int elk_wg_noise_handshake_update_identity(struct elk_wg_noise_handshake *hs,
					  const struct elk_wg_noise_identity *id);
void elk_wg_noise_handshake_set_psk(struct elk_wg_noise_handshake *hs,
				    const uint8_t psk[ELK_WG_KEY_LEN]);
/* Abandon the in-flight handshake (configuration and replay state stay). */
void elk_wg_noise_handshake_clear(struct elk_wg_noise_handshake *hs);
/* Forget everything. */
void elk_wg_noise_handshake_wipe(struct elk_wg_noise_handshake *hs);
/* Test hook: the next create_initiation/create_response uses this
 * ephemeral private key instead of a random one. Never use in production. */
void elk_wg_noise_handshake_set_next_ephemeral(struct elk_wg_noise_handshake *hs,
					       const uint8_t priv[ELK_WG_KEY_LEN]);

/* Initiator: build message 1 (mac1/mac2 left zero) with our sender index
 * and a TAI64N timestamp. Starts a new handshake, discarding any other. */
int elk_wg_noise_create_initiation(struct elk_wg_noise_handshake *hs,
				   const struct elk_wg_noise_identity *id,
				   uint32_t sender_index,
				   const uint8_t timestamp[ELK_WG_TIMESTAMP_LEN],
				   uint8_t out[ELK_WG_INITIATION_SIZE]);

/* Responder, step 1: authenticate the initiator's static key. On success
 * ctx->remote_static names the peer to look up. mac1 must have been
 * checked already (it is cheap; this is not). */
int elk_wg_noise_consume_initiation_begin(const struct elk_wg_noise_identity *id,
					  const uint8_t msg[ELK_WG_INITIATION_SIZE],
					  struct elk_wg_noise_initiation_ctx *ctx);
/* Responder, step 2, on that peer's handshake: decrypt and check the
 * timestamp (strictly newer than any accepted before, -ESTALE otherwise),
 * rate-limit (-EBUSY), then commit. ctx is wiped in all cases. */
int elk_wg_noise_consume_initiation_finish(struct elk_wg_noise_handshake *hs,
					   const struct elk_wg_noise_identity *id,
					   struct elk_wg_noise_initiation_ctx *ctx,
					   uint64_t now_ns);

/* Responder: build message 2 (mac1/mac2 left zero) with our sender index. */
int elk_wg_noise_create_response(struct elk_wg_noise_handshake *hs,
				 const struct elk_wg_noise_identity *id,
				 uint32_t sender_index,
				 uint8_t out[ELK_WG_RESPONSE_SIZE]);

/* Initiator: consume message 2. The handshake is left untouched on
 * failure, so a forged response cannot kill a pending handshake. */
int elk_wg_noise_consume_response(struct elk_wg_noise_handshake *hs,
				  const struct elk_wg_noise_identity *id,
				  const uint8_t msg[ELK_WG_RESPONSE_SIZE]);

/* Either side, once its half is done (CREATED_RESPONSE or
 * CONSUMED_RESPONSE): derive the transport keys (§5.4.5) and wipe the
 * in-flight handshake. */
int elk_wg_noise_derive_keypair(struct elk_wg_noise_handshake *hs,
				struct elk_wg_noise_keypair *kp);

#endif
