/* Key codec: known-answer pairs, round trips, and every way a key can be
 * spelled wrong. */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>

#include "key.h"
#include "t.h"

static void known_pairs(void)
{
	FILE *f = fopen("tests/vectors/x25519-keys.txt", "r");
	char line[256], priv_s[64], pub_s[64];
	int n = 0;

	T_CHECK(f != NULL, "open tests/vectors/x25519-keys.txt");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		uint8_t priv[32], pub[32], want[32];
		char back[ELK_KEY_B64_LEN + 1];

		if (line[0] == '#' || sscanf(line, "%63s %63s", priv_s, pub_s) != 2)
			continue;
		n++;
		T_CHECK(elk_key_from_base64(priv, priv_s) == 0, "decode %s", priv_s);
		T_CHECK(elk_key_from_base64(want, pub_s) == 0, "decode %s", pub_s);
		T_CHECK(elk_key_public(pub, priv) == 0, "public of %s", priv_s);
		T_EQ_MEM(pub, want, 32, "public key of %s", priv_s);
		elk_key_to_base64(back, pub);
		T_EQ_STR(back, pub_s, "re-encoding");
	}
	fclose(f);
	T_CHECK(n >= 8, "read %d vectors", n);
}

static void round_trips(void)
{
	for (int i = 0; i < 1000; i++) {
		uint8_t k[32], k2[32], k3[32];
		char b64[ELK_KEY_B64_LEN + 1], hex[ELK_KEY_HEX_LEN + 1];

		randombytes_buf(k, sizeof(k));
		elk_key_to_base64(b64, k);
		elk_key_to_hex(hex, k);
		T_CHECK(strlen(b64) == 44 && strlen(hex) == 64, "lengths");
		T_CHECK(elk_key_from_base64(k2, b64) == 0 && elk_key_eq(k, k2), "b64 %s", b64);
		T_CHECK(elk_key_from_hex(k3, hex) == 0 && elk_key_eq(k, k3), "hex %s", hex);
	}
}

static void strictness(void)
{
	static const char *bad_b64[] = {
		"",
		"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo",    /* no padding */
		"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo==",  /* too long */
		"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCp=",   /* padding bits set */
		"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LC*=",   /* not base64 */
		"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo= ",  /* trailing garbage */
		" dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=",  /* leading space */
		"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25L=o=",   /* '=' inside */
		"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n",
		"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkq_Xf7pR25LCo=",   /* URL alphabet */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	};
	static const char *bad_hex[] = {
		"",
		"77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2",   /* 63 */
		"77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a0", /* 65 */
		"77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2g",
		"77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c 2a",
	};
	uint8_t k[32];

	for (size_t i = 0; i < sizeof(bad_b64) / sizeof(*bad_b64); i++) {
		memset(k, 0xaa, sizeof(k));
		T_CHECK(elk_key_from_base64(k, bad_b64[i]) == -EINVAL, "rejects b64 #%zu \"%s\"", i,
			bad_b64[i]);
		T_CHECK(k[0] == 0xaa && k[31] == 0xaa, "b64 #%zu leaves the output alone", i);
	}
	for (size_t i = 0; i < sizeof(bad_hex) / sizeof(*bad_hex); i++)
		T_CHECK(elk_key_from_hex(k, bad_hex[i]) == -EINVAL, "rejects hex #%zu", i);
	T_CHECK(elk_key_from_hex(k, "77076D0A7318A57D3C16C17251B26645DF4C2F87EBC0992AB177FBA51DB92C2A") == 0,
		"upper-case hex accepted");
	T_CHECK(elk_key_from_base64n(k, "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=XYZ", 44) == 0,
		"counted decoding stops at n");
}

static void generation(void)
{
	uint8_t a[32], b[32], zero[32] = { 0 };

	elk_key_generate_private(a);
	elk_key_generate_private(b);
	T_CHECK(!elk_key_eq(a, b), "two keys differ");
	T_CHECK((a[0] & 7) == 0 && (a[31] & 0xc0) == 0x40, "private key is clamped");
	T_CHECK(elk_key_is_zero(zero) && !elk_key_is_zero(a), "is_zero");
	/* Clamping makes even an all-zero private key usable, as in wg. */
	T_CHECK(elk_key_public(b, zero) == 0 && !elk_key_is_zero(b), "zero private key clamps");
}

int main(void)
{
	if (sodium_init() < 0)
		return 111;
	known_pairs();
	round_trips();
	strictness();
	generation();
	return T_DONE();
}
