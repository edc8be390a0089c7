/* fuzz_facts_wire.c - libFuzzer harness for lib/facts_wire.c, the decoder of
 * wirelink's facts wire format (PROTOCOL.md; ../shared/FACTS-WIRE.md).
 *
 * Every input is tried as a datagram (split, source check, signature check
 * with a fixed key, inner facts), as one bare fact, and, when it looks like
 * JSON, as a fact record. Beyond "no crash, no sanitizer report" it asserts
 * the codec's promises, so that a wrong decode is a finding too:
 *   - a decoded fact re-encodes to exactly the bytes it came from;
 *   - fact -> JSON -> fact gives the same fact (same bytes; member items
 *     may come back in wirelink's order, so those compare as JSON);
 *   - a fact read from JSON encodes, and decodes back to itself.
 * Built and run by tests/fuzz/run.sh; seeds in tests/fuzz/corpus/facts_wire,
 * which tests/unit/test_facts_wire.c replays through this file without
 * libFuzzer.
 */
#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "facts_wire.h"

static uint8_t own_priv[ELK_KEY_LEN];
static uint8_t src_addr[16];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	/* The recipient key of the encoder-made seeds (RFC 7748 Bob), so
	 * that some inputs get past the signature check. */
	if (elk_key_from_base64(own_priv, "XasIfmJKikt54X+Lg4AO5m87sSkmGLb9HC+LJ/+I4Os="))
		abort();
	src_addr[0] = 0xfe;
	src_addr[1] = 0x80;
	return 0;
}

/* CHECK(c): a promise; see fuzz.h. */
#include "fuzz.h"

/* The promises of one decoded fact (raw = the bytes it came from). */
static void check_fact(const struct elk_fact *f, const uint8_t *raw, size_t rawlen)
{
	static struct elk_fact g;
	static uint8_t out[ELK_FACTS_DGRAM_MAX], out2[ELK_FACTS_DGRAM_MAX];
	size_t n, n2;
	struct elk_err e;
	json_t *j, *j2;

	CHECK(elk_fact_check(f, &e) == 0);
	CHECK(elk_fact_put(f, out, sizeof(out), &n, &e) == 0);
	CHECK(n == rawlen && memcmp(out, raw, n) == 0);

	j = elk_fact_to_json(f, own_priv);
	CHECK(j != NULL);
	CHECK(elk_fact_from_json(j, &g, &e) == 0);
	CHECK(g.attr == f->attr && g.ttl == f->ttl && !memcmp(g.subject, f->subject, ELK_KEY_LEN));
	CHECK(elk_fact_put(&g, out2, sizeof(out2), &n2, &e) == 0);
	if (f->attr == ELK_FACT_MEMBER_META) {
		j2 = elk_fact_to_json(&g, own_priv);
		CHECK(j2 != NULL && json_equal(j, j2));
		json_decref(j2);
	} else {
		CHECK(n2 == n && memcmp(out, out2, n) == 0);
	}
	json_decref(j);
}

static void as_datagram(const uint8_t *data, size_t size)
{
	struct elk_facts_group g;
	struct elk_facts_iter it;
	static struct elk_fact f;
	struct elk_err e;
	size_t start = 0;
	int r;

	if (elk_facts_group_parse(data, size, &g, &e) < 0)
		return;
	CHECK(g.inner >= data && g.inner + g.inner_len == data + size);
	(void)elk_facts_group_check_source(&g, src_addr, &e);
	r = elk_facts_group_verify(&g, own_priv, &e);
	CHECK(r == 0 || r == -EBADMSG);
	elk_facts_iter_init(&it, &g);
	while ((r = elk_facts_iter_next(&it, &f, &e)) > 0) {
		CHECK(it.off > start && it.off <= g.inner_len);
		check_fact(&f, g.inner + start, it.off - start);
		start = it.off;
	}
	CHECK(r == 0 || r == -EINVAL);
	CHECK(elk_facts_iter_next(&it, &f, &e) == 0); /* a bad fact ends the group */
}

static void as_fact(const uint8_t *data, size_t size)
{
	static struct elk_fact f;
	struct elk_err e;
	size_t used;

	if (elk_fact_parse(data, size, &f, &used, &e) < 0)
		return;
	CHECK(used > 0 && used <= size);
	check_fact(&f, data, used);
}

static void as_json(const uint8_t *data, size_t size)
{
	static struct elk_fact f, g;
	static uint8_t out[ELK_FACTS_DGRAM_MAX], out2[ELK_FACTS_DGRAM_MAX];
	struct elk_err e;
	size_t n, n2, used;
	json_t *j;
	int r;

	j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (!j)
		return;
	r = elk_fact_from_json(j, &f, &e);
	json_decref(j);
	if (r < 0)
		return;
	r = elk_fact_put(&f, out, sizeof(out), &n, &e);
	CHECK(r == 0 || r == -ENOSPC);
	if (r < 0)
		return;
	CHECK(elk_fact_parse(out, n, &g, &used, &e) == 0 && used == n);
	CHECK(elk_fact_put(&g, out2, sizeof(out2), &n2, &e) == 0);
	CHECK(n2 == n && memcmp(out, out2, n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	as_datagram(data, size);
	as_fact(data, size);
	if (size && data[0] == '{')
		as_json(data, size);
	return 0;
}
