/* key.c - key codecs and generation on top of libsodium. */
#include "key.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

int elk_key_from_base64n(uint8_t key[ELK_KEY_LEN], const char *s, size_t n)
{
	uint8_t tmp[ELK_KEY_LEN];
	char canon[ELK_KEY_B64_LEN + 1];
	size_t len = 0;
	const char *end = NULL;
	int ok;

	if (n != ELK_KEY_B64_LEN || s[ELK_KEY_B64_LEN - 1] != '=')
		return -EINVAL;
	if (sodium_base642bin(tmp, sizeof(tmp), s, n, NULL, &len, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    len != ELK_KEY_LEN || end != s + n) {
		sodium_memzero(tmp, sizeof(tmp));
		return -EINVAL;
	}
	/* Padding bits must be zero: the only spelling of a key is the one
	 * that re-encodes to the same text. */
	sodium_bin2base64(canon, sizeof(canon), tmp, sizeof(tmp),
			  sodium_base64_VARIANT_ORIGINAL);
	ok = sodium_memcmp(canon, s, ELK_KEY_B64_LEN) == 0;
	if (ok)
		memcpy(key, tmp, ELK_KEY_LEN);
	sodium_memzero(canon, sizeof(canon));
	sodium_memzero(tmp, sizeof(tmp));
	return ok ? 0 : -EINVAL;
}

int elk_key_from_base64(uint8_t key[ELK_KEY_LEN], const char *s)
{
	return elk_key_from_base64n(key, s, strnlen(s, ELK_KEY_B64_LEN + 1));
}

void elk_key_to_base64(char out[ELK_KEY_B64_LEN + 1], const uint8_t key[ELK_KEY_LEN])
{
	sodium_bin2base64(out, ELK_KEY_B64_LEN + 1, key, ELK_KEY_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
}

int elk_key_from_hex(uint8_t key[ELK_KEY_LEN], const char *s)
{
	uint8_t tmp[ELK_KEY_LEN];
	size_t len = 0;
	const char *end = NULL;
	size_t n = strnlen(s, ELK_KEY_HEX_LEN + 1);
	int r = -EINVAL;

	if (n == ELK_KEY_HEX_LEN &&
	    sodium_hex2bin(tmp, sizeof(tmp), s, n, NULL, &len, &end) == 0 &&
	    len == ELK_KEY_LEN && end == s + n) {
		memcpy(key, tmp, ELK_KEY_LEN);
		r = 0;
	}
	sodium_memzero(tmp, sizeof(tmp));
	return r;
}

void elk_key_to_hex(char out[ELK_KEY_HEX_LEN + 1], const uint8_t key[ELK_KEY_LEN])
{
	sodium_bin2hex(out, ELK_KEY_HEX_LEN + 1, key, ELK_KEY_LEN);
}

bool elk_key_eq(const uint8_t a[ELK_KEY_LEN], const uint8_t b[ELK_KEY_LEN])
{
	return sodium_memcmp(a, b, ELK_KEY_LEN) == 0;
}

bool elk_key_is_zero(const uint8_t key[ELK_KEY_LEN])
{
	return sodium_is_zero(key, ELK_KEY_LEN);
}

void elk_key_generate_private(uint8_t key[ELK_KEY_LEN])
{
	randombytes_buf(key, ELK_KEY_LEN);
	/* RFC 7748 §5 clamping, as wg genkey stores it. */
	key[0] &= 248;
	key[31] = (key[31] & 127) | 64;
}

void elk_key_generate_psk(uint8_t key[ELK_KEY_LEN])
{
	randombytes_buf(key, ELK_KEY_LEN);
}

int elk_key_public(uint8_t pub[ELK_KEY_LEN], const uint8_t priv[ELK_KEY_LEN])
{
	/* crypto_scalarmult_curve25519_base clamps internally and fails only
	 * when the result is the all-zero point. */
	if (crypto_scalarmult_curve25519_base(pub, priv) != 0)
		return -EINVAL;
	return 0;
}
