/* key.h - WireGuard keys: 32 raw bytes, base64 as `wg` prints them, hex as
 * the cross-platform UAPI carries them.
 *
 * Decoding is strict (exact length, canonical padding, no trailing bytes)
 * and runs in constant time with respect to the key's bytes: the codecs are
 * libsodium's, which are written to be constant time, and a key is compared
 * only with sodium_memcmp.
 */
#ifndef ELK_KEY_H
#define ELK_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ELK_KEY_LEN 32
#define ELK_KEY_B64_LEN 44 /* without the terminating NUL */
#define ELK_KEY_HEX_LEN 64

/* 0, or -EINVAL when s is not exactly one base64 key. */
int elk_key_from_base64(uint8_t key[ELK_KEY_LEN], const char *s);
/* Same on a counted string (s need not be NUL-terminated). */
int elk_key_from_base64n(uint8_t key[ELK_KEY_LEN], const char *s, size_t n);
void elk_key_to_base64(char out[ELK_KEY_B64_LEN + 1], const uint8_t key[ELK_KEY_LEN]);
/* Lower or upper case accepted; exactly 64 digits. */
int elk_key_from_hex(uint8_t key[ELK_KEY_LEN], const char *s);
void elk_key_to_hex(char out[ELK_KEY_HEX_LEN + 1], const uint8_t key[ELK_KEY_LEN]);

bool elk_key_eq(const uint8_t a[ELK_KEY_LEN], const uint8_t b[ELK_KEY_LEN]);
bool elk_key_is_zero(const uint8_t key[ELK_KEY_LEN]);

/* A new Curve25519 private key, clamped as `wg genkey` clamps it. */
void elk_key_generate_private(uint8_t key[ELK_KEY_LEN]);
/* A new random preshared key. */
void elk_key_generate_psk(uint8_t key[ELK_KEY_LEN]);
/* Public key of a private key; -EINVAL for a key whose public key would be
 * the identity (all zero), which no peer could use. */
int elk_key_public(uint8_t pub[ELK_KEY_LEN], const uint8_t priv[ELK_KEY_LEN]);

#endif
