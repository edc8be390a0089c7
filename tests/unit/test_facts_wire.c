/* wirelink's facts wire format (lib/facts_wire.c): every attribute both
 * ways, signed groups against an independent known answer
 * (tests/vectors/facts-signed.txt) and wirelink's recorded traffic
 * (tests/vectors/wirelink-vnet-packets.hex), and every way a packet can be
 * malformed or forged. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>

#include "addr.h"
#include "facts_wire.h"
#include "key.h"
#include "records.h"
#include "t.h"

/* The fuzz harness, with its checks counted here instead of crashing: every
 * file of the seed corpus (and every crash once fixed) is replayed by
 * corpus_replay() below, so CI checks the corpus without libFuzzer. */
static const char *corpus_file;
#define FUZZ_FAIL(what) T_CHECK(0, "corpus %s: %s", corpus_file, (what))
#include "../fuzz/fuzz_facts_wire.c"

static uint8_t key_a[32], key_b[32];

static void mkkey(uint8_t k[32], uint8_t fill)
{
	for (int i = 0; i < 32; i++)
		k[i] = (uint8_t)(fill + i);
}

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;

	if (sodium_hex2bin(out, cap, s, strlen(s), NULL, &n, NULL) != 0)
		return 0;
	return n;
}

/* put -> parse -> put gives the same bytes and the same fields; JSON ->
 * fact -> bytes gives them too. */
static void round_trip(const struct elk_fact *f, const char *what)
{
	static struct elk_fact g, h;
	uint8_t a[ELK_FACTS_DGRAM_MAX], b[ELK_FACTS_DGRAM_MAX];
	size_t la, lb, used;
	struct elk_err e = { "" };
	json_t *j;

	T_EQ_INT(elk_fact_put(f, a, sizeof(a), &la, &e), 0, what);
	T_EQ_INT(elk_fact_parse(a, la, &g, &used, &e), 0, what);
	T_EQ_INT(used, la, what);
	T_EQ_INT(g.attr, f->attr, what);
	T_EQ_INT(g.ttl, f->ttl, what);
	T_EQ_MEM(g.subject, f->subject, 32, "%s: subject", what);
	T_EQ_INT(elk_fact_put(&g, b, sizeof(b), &lb, &e), 0, what);
	T_CHECK(la == lb && !memcmp(a, b, la), "%s: bytes differ after parse", what);

	j = elk_fact_to_json(&g, key_a);
	T_CHECK(j != NULL, "%s: to_json", what);
	T_EQ_INT(elk_fact_from_json(j, &h, &e), 0, what);
	T_CHECK(!e.msg[0], "%s: %s", what, e.msg);
	T_EQ_INT(elk_fact_put(&h, b, sizeof(b), &lb, &e), 0, what);
	T_CHECK(la == lb && !memcmp(a, b, la), "%s: bytes differ after JSON", what);
	json_decref(j);
}

static struct elk_fact fact(uint8_t attr, uint32_t ttl)
{
	struct elk_fact f;

	memset(&f, 0, sizeof(f));
	f.attr = attr;
	f.ttl = ttl;
	memcpy(f.subject, key_b, 32);
	return f;
}

/* Appends a member item in wire form. */
static void meta_add(struct elk_fact_meta *m, uint8_t attr, const void *data, size_t len)
{
	m->items[m->len++] = attr;
	m->items[m->len++] = (uint8_t)len; /* tests keep items under 128 bytes */
	memcpy(m->items + m->len, data, len);
	m->len += len;
}

static void every_attribute(void)
{
	static struct elk_fact f;

	f = fact(ELK_FACT_ALIVE, 30);
	for (int i = 0; i < 16; i++)
		f.v.boot_id[i] = (uint8_t)(0xa0 + i);
	round_trip(&f, "alive");

	f = fact(ELK_FACT_MEMBER, 255);
	round_trip(&f, "member (old form)");

	f = fact(ELK_FACT_MEMBER_META, 255);
	round_trip(&f, "member metadata, empty");
	meta_add(&f.v.meta, 'n', "web1 ☃", strlen("web1 ☃"));
	meta_add(&f.v.meta, 'b', "\1", 1);
	meta_add(&f.v.meta, 'z', "\0\1\2", 3);
	round_trip(&f, "member metadata, name basic and an unknown item");

	f = fact(ELK_FACT_ENDPOINT_V4, 65535);
	memcpy(f.v.endpoint.addr, "\xc0\x00\x02\x07", 4);
	f.v.endpoint.port = 51820;
	round_trip(&f, "endpoint v4, ttl 65535");
	f.v.endpoint.port = 0;
	round_trip(&f, "endpoint v4, port 0");

	f = fact(ELK_FACT_ENDPOINT_V6, 0);
	inet_pton(AF_INET6, "2001:db8::1", f.v.endpoint.addr);
	f.v.endpoint.port = 65535;
	round_trip(&f, "endpoint v6, ttl 0");

	f = fact(ELK_FACT_ALLOWED_V4, 128);
	T_EQ_INT(elk_cidr_parse("10.1.0.0/16", &f.v.allowed), 0, "cidr");
	round_trip(&f, "allowed v4, ttl 128 (two-byte varint)");
	T_EQ_INT(elk_cidr_parse("10.0.0.1/24", &f.v.allowed), 0, "cidr");
	round_trip(&f, "allowed v4 with host bits");

	f = fact(ELK_FACT_ALLOWED_V6, 16384);
	T_EQ_INT(elk_cidr_parse("2001:db8::/64", &f.v.allowed), 0, "cidr");
	round_trip(&f, "allowed v6, ttl 16384 (three-byte varint)");
	T_EQ_INT(elk_cidr_parse("::ffff:10.0.0.0/104", &f.v.allowed), 0, "cidr");
	round_trip(&f, "allowed v6, IPv4-mapped");

	f = fact('x', 7);
	f.v.raw.len = 5;
	memcpy(f.v.raw.bytes, "hello", 5);
	round_trip(&f, "unknown attribute");
	f.v.raw.len = 0;
	round_trip(&f, "unknown attribute, empty value");
}

/* The JSON shape of each value, exactly as el-facts(1) documents it. */
static void json_values(void)
{
	static const struct {
		const char *hex_value; /* after attr, ttl 0x05, subject key_b */
		uint8_t attr;
		const char *json; /* the "value" member */
	} cases[] = {
		{ "000102030405060708090a0b0c0d0e0f", '!', "\"000102030405060708090a0b0c0d0e0f\"" },
		{ "", 'm', "null" },
		{ "00", 'M', "{}" },
		{ "0c6e03613a62620101" "7a0201ff", 'M', "{\"name\":\"a:b\",\"basic\":true,\"0x7a\":\"01ff\"}" },
		{ "0a000001ca6c", 'e', "\"10.0.0.1:51820\"" },
		{ "20010db8000000000000000000000001ca6c", 'E', "\"[2001:db8::1]:51820\"" },
		{ "c0a8000018", 'a', "\"192.168.0.0/24\"" },
		{ "20010db800000000000000000000000040", 'A', "\"2001:db8::/64\"" },
		{ "beef", 'q', "\"beef\"" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t buf[256];
		size_t n = 0, used;
		static struct elk_fact f;
		struct elk_err e;
		json_t *j;
		char *s;

		buf[n++] = cases[i].attr;
		buf[n++] = 5;
		memcpy(buf + n, key_b, 32);
		n += 32;
		n += unhex(cases[i].hex_value, buf + n, sizeof(buf) - n);
		T_EQ_INT(elk_fact_parse(buf, n, &f, &used, &e), 0, cases[i].json);
		j = elk_fact_to_json(&f, NULL);
		s = json_dumps(json_object_get(j, "value"), JSON_COMPACT | JSON_ENCODE_ANY);
		T_EQ_STR(s, cases[i].json, "value");
		free(s);
		json_decref(j);
	}
}

static void meta_rules(void)
{
	static const struct {
		const char *items, *why; /* why NULL: valid */
	} cases[] = {
		{ "6e0161" "6e0162", "appears twice" },
		{ "620100" "620101", "appears twice" },
		{ "7a00" "7a00", "appears twice" },
		{ "6e02c328", "UTF-8" },      /* broken two-byte sequence */
		{ "6e02c0af", "UTF-8" },      /* overlong '/' */
		{ "6e03eda080", "UTF-8" },    /* a surrogate */
		{ "6e04f4908080", "UTF-8" },  /* above U+10FFFF */
		{ "6e03e282ac", NULL },       /* the euro sign */
		{ "620102", "basic" },
		{ "62020000", "basic" },
		{ "6200", "basic" },
		{ "6e05616263", "only" },     /* item longer than the metadata */
		{ "6e", "truncated varint" },
		{ "6e8000", "shortest form" },
		{ "", NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t buf[128], items[64];
		size_t n = 0, used, il = unhex(cases[i].items, items, sizeof(items));
		static struct elk_fact f;
		struct elk_err e = { "" };
		int r;

		buf[n++] = 'M';
		buf[n++] = 1;
		memcpy(buf + n, key_b, 32);
		n += 32;
		buf[n++] = (uint8_t)il;
		memcpy(buf + n, items, il);
		n += il;
		r = elk_fact_parse(buf, n, &f, &used, &e);
		if (cases[i].why) {
			T_EQ_INT(r, -EINVAL, cases[i].items);
			T_CHECK(strstr(e.msg, cases[i].why) != NULL, "%s: reason \"%s\"",
				cases[i].items, e.msg);
			/* The encoder refuses the same items. */
			f = fact('M', 1);
			memcpy(f.v.meta.items, items, il);
			f.v.meta.len = il;
			T_EQ_INT(elk_fact_check(&f, &e), -EINVAL, cases[i].items);
		} else {
			T_EQ_INT(r, 0, cases[i].items);
		}
	}
}

static void bad_facts(void)
{
	/* Each a single fact after an attribute byte; subject key_b follows
	 * the ttl where the string says "K". */
	static const struct {
		const char *before, *after, *why;
	} cases[] = {
		{ "65808004", "0a000001ca6c", "ttl: 65536 is over 65535" },
		{ "65ffff03", "0a000001ca6c", NULL }, /* 65535 */
		{ "658000", "0a000001ca6c", "shortest form" },
		{ "65ffffffffffffffffff02", "", "overflows" },
		{ "65ff", "", "truncated varint" },
		{ "4500", "00000000000000000000ffff0a000001ca6c", "IPv4-mapped" },
		{ "6100", "0a00000021", "prefix length 33" },
		{ "6100", "0a00000020", NULL },
		{ "4100", "20010db800000000000000000000000081", "prefix length 129" },
		{ "4d00", "05", "member: value: 0 bytes, need 5" },
		{ "4d00", "8000", "member: length: varint not in its shortest form" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t buf[128];
		size_t n, used;
		static struct elk_fact f;
		struct elk_err e = { "" };
		int r;

		n = unhex(cases[i].before, buf, sizeof(buf));
		if (*cases[i].after || !strstr(cases[i].why ? cases[i].why : "", "varint")) {
			memcpy(buf + n, key_b, 32);
			n += 32;
		}
		n += unhex(cases[i].after, buf + n, sizeof(buf) - n);
		r = elk_fact_parse(buf, n, &f, &used, &e);
		if (cases[i].why) {
			T_EQ_INT(r, -EINVAL, cases[i].why);
			T_CHECK(strstr(e.msg, cases[i].why) != NULL, "reason \"%s\", want \"%s\"",
				e.msg, cases[i].why);
		} else {
			T_EQ_INT(r, 0, cases[i].before);
			T_EQ_INT(used, n, cases[i].before);
		}
	}
}

/* Every attribute with a value one byte short, and with nothing at all
 * after the attribute byte, up to the subject. */
static void short_values(void)
{
	static const struct {
		uint8_t attr;
		const char *value;
	} cases[] = {
		{ '!', "000102030405060708090a0b0c0d0e0f" },
		{ 'e', "0a000001ca6c" },
		{ 'E', "20010db8000000000000000000000001ca6c" },
		{ 'a', "0a00000018" },
		{ 'A', "20010db800000000000000000000000040" },
		{ 'M', "036e0161" },
		{ 'm', "" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t buf[128];
		size_t n = 0, used, full;
		static struct elk_fact f;
		struct elk_err e = { "" };
		char what[32];

		buf[n++] = cases[i].attr;
		buf[n++] = 9;
		memcpy(buf + n, key_b, 32);
		n += 32;
		full = n + unhex(cases[i].value, buf + n, sizeof(buf) - n);
		snprintf(what, sizeof(what), "attribute %c", cases[i].attr);
		T_EQ_INT(elk_fact_parse(buf, full, &f, &used, &e), 0, what);
		T_EQ_INT(used, full, what);
		for (size_t cut = 0; cut < full; cut++) {
			T_EQ_INT(elk_fact_parse(buf, cut, &f, &used, &e), -EINVAL, what);
			T_CHECK(e.msg[0], "%s cut at %zu: no reason", what, cut);
		}
	}
}

/* Builds and seals a group from A to B holding facts (hex, concatenated). */
static size_t group_of(uint8_t *d, const char *inner_hex, const uint8_t *priv_a,
		       const uint8_t *pub_b)
{
	uint8_t inner[ELK_FACTS_DGRAM_MAX];
	size_t il = unhex(inner_hex, inner, sizeof(inner)), n = 0;
	struct elk_err e;

	T_EQ_INT(elk_facts_group_seal(d, &n, priv_a, pub_b, inner, il, &e), 0, "seal");
	return n;
}

static int count_facts(const struct elk_facts_group *g, int *err)
{
	struct elk_facts_iter it;
	static struct elk_fact f;
	struct elk_err e;
	int n = 0, r;

	elk_facts_iter_init(&it, g);
	while ((r = elk_facts_iter_next(&it, &f, &e)) > 0)
		n++;
	*err = r;
	return n;
}

static uint8_t a_priv[32], a_pub[32], b_priv[32], b_pub[32];

static void load_keys(void)
{
	T_EQ_INT(elk_key_from_base64(a_priv, "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo="), 0, "a");
	T_EQ_INT(elk_key_from_base64(a_pub, "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="), 0, "a");
	T_EQ_INT(elk_key_from_base64(b_priv, "XasIfmJKikt54X+Lg4AO5m87sSkmGLb9HC+LJ/+I4Os="), 0, "b");
	T_EQ_INT(elk_key_from_base64(b_pub, "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08="), 0, "b");
}

static void known_answer(void)
{
	FILE *f = fopen("tests/vectors/facts-signed.txt", "r");
	char line[4096], k[32], v[4000];
	uint8_t nonce[24], inner[1200], want[1300], got[ELK_FACTS_DGRAM_MAX];
	size_t nl = 0, il = 0, wl = 0, gl = 0;
	struct elk_facts_group g;
	struct elk_err e;
	int err;

	T_CHECK(f != NULL, "open tests/vectors/facts-signed.txt");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || sscanf(line, "%31s %3999s", k, v) != 2)
			continue;
		if (!strcmp(k, "nonce"))
			nl = unhex(v, nonce, sizeof(nonce));
		else if (!strcmp(k, "inner"))
			il = unhex(v, inner, sizeof(inner));
		else if (!strcmp(k, "dgram"))
			wl = unhex(v, want, sizeof(want));
	}
	fclose(f);
	T_CHECK(nl == 24 && il > 0 && wl > 0, "vector file complete");
	T_EQ_INT(elk_facts_group_seal_nonce(got, &gl, a_priv, b_pub, nonce, inner, il, &e), 0,
		 "seal with the vector's nonce");
	T_CHECK(gl == wl && !memcmp(got, want, wl), "sealed group equals the independent one");
	T_EQ_INT(elk_facts_group_parse(want, wl, &g, &e), 0, "parse");
	T_EQ_MEM(g.source, a_pub, 32, "source is the sender");
	T_EQ_INT(elk_facts_group_verify(&g, b_priv, &e), 0, "recipient verifies");
	T_EQ_INT(elk_facts_group_verify(&g, a_priv, &e), -EBADMSG,
		 "the sender's own key is not the recipient's");
	T_EQ_INT(count_facts(&g, &err), 2, "two facts");
	T_EQ_INT(err, 0, "no error");
}

/* Sign with fresh pairs, verify; flip every bit-carrying byte of the tag,
 * nonce, source and facts: every flip is rejected. */
static void sign_verify(void)
{
	uint8_t pa[32], qa[32], pb[32], qb[32], pc[32], qc[32];
	uint8_t d[ELK_FACTS_DGRAM_MAX], inner[128];
	size_t n, il;
	struct elk_facts_group g;
	struct elk_err e;
	int rejected = 0, flips = 0;

	elk_key_generate_private(pa);
	elk_key_generate_private(pb);
	elk_key_generate_private(pc);
	T_EQ_INT(elk_key_public(qa, pa), 0, "a");
	T_EQ_INT(elk_key_public(qb, pb), 0, "b");
	T_EQ_INT(elk_key_public(qc, pc), 0, "c");
	il = 0;
	inner[il++] = 'e';
	inner[il++] = 0x7f;
	memcpy(inner + il, qb, 32);
	il += 32;
	memcpy(inner + il, "\x0a\x00\x00\x01\xca\x6c", 6);
	il += 6;
	T_EQ_INT(elk_facts_group_seal(d, &n, pa, qb, inner, il, &e), 0, "seal");
	T_EQ_INT(n, ELK_FACTS_GROUP_MIN + il, "length");
	T_EQ_INT(elk_facts_group_parse(d, n, &g, &e), 0, "parse");
	T_EQ_INT(elk_facts_group_verify(&g, pb, &e), 0, "b verifies a's group");
	T_EQ_INT(elk_facts_group_verify(&g, pc, &e), -EBADMSG, "c cannot: not for c");
	T_CHECK(strstr(e.msg, "signature") != NULL, "reason: %s", e.msg);

	/* Bytes 2.. : source, nonce, tag, facts (byte 0 is 'S', byte 1 the
	 * ttl). Bit 7 of the key's last byte matters too: X25519 ignores it,
	 * so verify refuses keys that have it set. */
	for (size_t i = 2; i < n; i++) {
		static const uint8_t masks[] = { 0x01, 0x80, 0xff };

		for (size_t m = 0; m < sizeof(masks); m++) {
			d[i] ^= masks[m];
			flips++;
			if (elk_facts_group_parse(d, n, &g, &e) < 0 ||
			    elk_facts_group_verify(&g, pb, &e) == -EBADMSG)
				rejected++;
			d[i] ^= masks[m];
		}
	}
	T_EQ_INT(rejected, flips, "every flipped byte of source, nonce, tag and facts rejected");
	/* The ttl of a group is ignored, so changing it is not a forgery. */
	d[1] = 5;
	T_EQ_INT(elk_facts_group_parse(d, n, &g, &e), 0, "group ttl 5");
	T_EQ_INT(elk_facts_group_verify(&g, pb, &e), 0, "group ttl is not signed");

	/* A low-order key gives no shared secret. */
	memset(g.source, 0, 32);
	T_EQ_INT(elk_facts_group_verify(&g, pb, &e), -EBADMSG, "zero source key");
	T_EQ_INT(elk_facts_group_seal(d, &n, pa, g.source, inner, il, &e), -EINVAL,
		 "seal to a zero key");
}

static void source_address(void)
{
	uint8_t d[ELK_FACTS_DGRAM_MAX], ll[16], other[16];
	size_t n = group_of(d, "", a_priv, b_pub);
	struct elk_facts_group g;
	struct elk_err e;

	T_EQ_INT(elk_facts_group_parse(d, n, &g, &e), 0, "parse empty group");
	elk_addr_ll_from_key(a_pub, ll);
	T_EQ_INT(elk_facts_group_check_source(&g, ll, &e), 0, "from the signer's address");
	elk_addr_ll_from_key(b_pub, other);
	T_EQ_INT(elk_facts_group_check_source(&g, other, &e), -EBADMSG, "from another peer");
	T_CHECK(strstr(e.msg, "link-local") != NULL, "reason: %s", e.msg);
	ll[15] ^= 1;
	T_EQ_INT(elk_facts_group_check_source(&g, ll, &e), -EBADMSG, "one bit off");
	inet_pton(AF_INET6, "fe80::1", other);
	T_EQ_INT(elk_facts_group_check_source(&g, other, &e), -EBADMSG, "fe80::1");
}

static void bad_groups(void)
{
	uint8_t d[ELK_FACTS_DGRAM_MAX + 8];
	size_t n;
	struct elk_facts_group g;
	struct elk_err e;
	int err;

	/* A bare fact at top level. */
	n = unhex("650a", d, sizeof(d));
	memcpy(d + n, key_b, 32);
	n += 32;
	n += unhex("0a000001ca6c", d + n, sizeof(d) - n);
	T_EQ_INT(elk_facts_group_parse(d, n, &g, &e), -EINVAL, "bare fact");
	T_CHECK(strstr(e.msg, "only signed groups") != NULL, "reason: %s", e.msg);

	T_EQ_INT(elk_facts_group_parse(d, 0, &g, &e), -EINVAL, "empty datagram");

	/* Too long for a datagram. */
	memset(d, 0, sizeof(d));
	d[0] = 'S';
	T_EQ_INT(elk_facts_group_parse(d, ELK_FACTS_DGRAM_MAX + 1, &g, &e), -EINVAL, "1213 bytes");
	T_EQ_INT(elk_facts_group_parse(d, ELK_FACTS_DGRAM_MAX, &g, &e), 0, "1212 bytes parse");
	T_EQ_INT(elk_facts_group_parse(d, ELK_FACTS_GROUP_MIN - 1, &g, &e), -EINVAL, "73 bytes");
	T_EQ_INT(elk_facts_group_parse(d, ELK_FACTS_GROUP_MIN, &g, &e), 0, "74 bytes");
	T_EQ_INT(g.inner_len, 0, "no facts");

	/* A group ttl over 65535 is malformed even though it is ignored. */
	n = unhex("53808004", d, sizeof(d));
	memset(d + n, 1, 72);
	T_EQ_INT(elk_facts_group_parse(d, n + 72, &g, &e), -EINVAL, "group ttl 65536");

	/* A group inside a group: the nested one ends the outer. */
	{
		char hex[1024];
		char k[65];
		uint8_t s[ELK_FACTS_DGRAM_MAX];

		sodium_bin2hex(k, sizeof(k), key_b, 32);
		snprintf(hex, sizeof(hex), "650a%s0a000001ca6c" "5300%s%048d%032d" "6100%s0a00000018",
			 k, k, 0, 0, k);
		n = group_of(s, hex, a_priv, b_pub);
		T_EQ_INT(elk_facts_group_parse(s, n, &g, &e), 0, "outer parses");
		T_EQ_INT(elk_facts_group_verify(&g, b_priv, &e), 0, "and verifies");
		T_EQ_INT(count_facts(&g, &err), 1, "the fact before the nested group survives");
		T_EQ_INT(err, -EINVAL, "nested group is an error");
	}
}

/* A corrupt fact ends its group: facts before it stand, after it none. */
static void corrupt_inner(void)
{
	char hex[1024], k[65];
	uint8_t d[ELK_FACTS_DGRAM_MAX];
	size_t n;
	struct elk_facts_group g;
	struct elk_facts_iter it;
	static struct elk_fact f;
	struct elk_err e;

	sodium_bin2hex(k, sizeof(k), key_b, 32);
	/* endpoint, then an endpoint with ttl 65536, then an allowed ip */
	snprintf(hex, sizeof(hex), "650a%s0a000001ca6c" "65808004%s0a000002ca6c" "6100%s0a00000018",
		 k, k, k);
	n = group_of(d, hex, a_priv, b_pub);
	T_EQ_INT(elk_facts_group_parse(d, n, &g, &e), 0, "parse");
	elk_facts_iter_init(&it, &g);
	T_EQ_INT(elk_facts_iter_next(&it, &f, &e), 1, "first fact");
	T_EQ_INT(f.attr, 'e', "first is the endpoint");
	T_EQ_INT(elk_facts_iter_next(&it, &f, &e), -EINVAL, "second is corrupt");
	T_CHECK(strstr(e.msg, "fact 2") && strstr(e.msg, "ttl: 65536"), "reason: %s", e.msg);
	T_EQ_INT(elk_facts_iter_next(&it, &f, &e), 0, "and the group ends there");
}

/* The recorded packets: all 66 decode; every prefix of each fails
 * cleanly, except a prefix that ends exactly between two facts. */
static void vectors_and_truncation(void)
{
	FILE *fp = fopen("tests/vectors/wirelink-vnet-packets.hex", "r");
	static char line[8192];
	int packets = 0, facts = 0, cut_ok = 0, cut_bad = 0, n_alive = 0, n_m = 0, n_e = 0, n_a = 0;

	T_CHECK(fp != NULL, "open tests/vectors/wirelink-vnet-packets.hex");
	if (!fp)
		return;
	while (fgets(line, sizeof(line), fp)) {
		uint8_t d[ELK_FACTS_DGRAM_MAX];
		size_t n, bounds[64], nb = 0;
		struct elk_facts_group g;
		struct elk_facts_iter it;
		static struct elk_fact f;
		struct elk_err e;
		int r, err;

		line[strcspn(line, "\r\n")] = 0;
		if (line[0] == '#' || !line[0])
			continue;
		n = unhex(line, d, sizeof(d));
		packets++;
		T_EQ_INT(elk_facts_group_parse(d, n, &g, &e), 0, "vector parses");
		elk_facts_iter_init(&it, &g);
		bounds[nb++] = (size_t)(g.inner - d);
		while ((r = elk_facts_iter_next(&it, &f, &e)) > 0) {
			uint8_t out[ELK_FACTS_DGRAM_MAX];
			size_t ol;

			facts++;
			n_alive += f.attr == '!';
			n_m += f.attr == 'M';
			n_e += f.attr == 'e';
			n_a += f.attr == 'a';
			/* Re-encoding gives wirelink's own bytes back. */
			T_EQ_INT(elk_fact_put(&f, out, sizeof(out), &ol, &e), 0, "put");
			T_CHECK(!memcmp(out, d + bounds[nb - 1], ol), "packet %d: re-encoded fact differs",
				packets);
			if (nb < 64)
				bounds[nb++] = (size_t)(g.inner - d) + it.off;
		}
		T_EQ_INT(r, 0, "vector decodes to the end");

		for (size_t cut = 0; cut < n; cut++) {
			bool at_bound = false;
			int got;

			for (size_t b = 0; b < nb; b++)
				at_bound |= bounds[b] == cut;
			if (elk_facts_group_parse(d, cut, &g, &e) < 0) {
				T_CHECK(cut < ELK_FACTS_GROUP_MIN, "packet %d cut at %zu: %s", packets,
					cut, e.msg);
				cut_bad++;
				continue;
			}
			got = count_facts(&g, &err);
			if (at_bound) {
				T_EQ_INT(err, 0, "cut between facts decodes");
				cut_ok++;
			} else {
				T_EQ_INT(err, -EINVAL, "cut inside a fact is an error");
				cut_bad++;
			}
			(void)got;
		}
	}
	fclose(fp);
	T_EQ_INT(packets, 66, "packets");
	T_EQ_INT(facts, 286, "facts in all packets");
	T_EQ_INT(n_alive, 66, "alive facts");
	T_EQ_INT(n_m, 103, "member facts");
	T_EQ_INT(n_e, 90, "endpoint facts");
	T_EQ_INT(n_a, 27, "allowed_ip facts");
	T_CHECK(cut_ok > 66 && cut_bad > 66 * 70, "truncations: %d between facts, %d rejected",
		cut_ok, cut_bad);
}

/* The first recorded packet, as the JSON el-facts prints. */
static void vector_json(void)
{
	static const char *want[] = {
		"{\"type\":\"fact\",\"subject\":\"x9XnbJsnF64OxxOAWqr4yvghymMZAYGo+dYGc8tzcRw=\","
		"\"attribute\":\"member\",\"value\":{\"name\":\"client2@self\",\"basic\":false},"
		"\"ttl\":8,\"source\":\"x9XnbJsnF64OxxOAWqr4yvghymMZAYGo+dYGc8tzcRw=\"}",
		"{\"type\":\"fact\",\"subject\":\"x9XnbJsnF64OxxOAWqr4yvghymMZAYGo+dYGc8tzcRw=\","
		"\"attribute\":\"alive\",\"value\":\"ca95556f8f5d4224b9e21a628d56fa41\","
		"\"ttl\":9,\"source\":\"x9XnbJsnF64OxxOAWqr4yvghymMZAYGo+dYGc8tzcRw=\"}",
	};
	static const char pkt[] =
		"5300c7d5e76c9b2717ae0ec713805aaaf8caf821ca63190181a8f9d60673cb73711c72d5f3f8907b16"
		"62952a3221af9fe16e14892404d4f20f778ce77d9f2ff9003733b9ce230cd47f714d08c7d5e76c9b27"
		"17ae0ec713805aaaf8caf821ca63190181a8f9d60673cb73711c116e0c636c69656e74324073656c66"
		"6201002109c7d5e76c9b2717ae0ec713805aaaf8caf821ca63190181a8f9d60673cb73711cca95556f"
		"8f5d4224b9e21a628d56fa41";
	uint8_t d[ELK_FACTS_DGRAM_MAX];
	size_t n = unhex(pkt, d, sizeof(d));
	struct elk_facts_group g;
	struct elk_facts_iter it;
	static struct elk_fact f;
	struct elk_err e;
	int i = 0;

	T_EQ_INT(elk_facts_group_parse(d, n, &g, &e), 0, "packet 1");
	elk_facts_iter_init(&it, &g);
	while (elk_facts_iter_next(&it, &f, &e) > 0 && i < 2) {
		json_t *j = elk_fact_to_json(&f, g.source);
		char *s = json_dumps(j, JSON_COMPACT);

		T_EQ_STR(s, want[i], "packet 1 fact");
		free(s);
		json_decref(j);
		i++;
	}
	T_EQ_INT(i, 2, "two facts");
}

static void json_errors(void)
{
	static const struct {
		const char *rec, *why;
	} cases[] = {
		{ "{\"type\":\"fact\",\"attribute\":\"alive\",\"value\":\"00\"}", "subject: missing" },
		{ "{\"type\":\"fact\",\"subject\":\"S\",\"attribute\":\"member\"}", "subject: not a key" },
		{ "{\"type\":\"fact\",\"subject\":\"K\",\"value\":null}", "attribute: missing" },
		{ "{\"type\":\"fact\",\"subject\":\"K\",\"attribute\":\"bogus\"}", "attribute: \"bogus\"" },
		{ "{\"type\":\"fact\",\"subject\":\"K\",\"attribute\":\"0x65\",\"value\":\"\"}", "known attribute" },
		{ "{\"type\":\"fact\",\"subject\":\"K\",\"attribute\":\"0x53\",\"value\":\"\"}", "known attribute" },
		{ "{\"type\":\"fact\",\"subject\":\"K\",\"attribute\":\"0X7A\",\"value\":\"\"}", "is not alive" },
		{ "{\"type\":\"fact\",\"subject\":\"K\",\"attribute\":\"0x7a\",\"value\":\"abc\"}", "hex digits" },
		{ "{\"type\":\"fact\",\"subject\":\"K\",\"attribute\":\"alive\",\"value\":\"00\"}", "32 hex digits" },
		{ "{\"type\":\"fact\",\"subject\":\"K\",\"attribute\":\"member\",\"ttl\":65536}", "ttl: 65536" },
		{ "{\"type\":\"fact\",\"subject\":\"K\",\"attribute\":\"member\",\"ttl\":-1}", "ttl: -1" },
		{ "{\"type\":\"fact\",\"subject\":\"K\",\"attribute\":\"member\",\"value\":3}", "null or an object" },
		{ "{\"type\":\"fact\",\"subject\":\"K\",\"attribute\":\"member\",\"value\":{\"name\":1}}", "value.name" },
		{ "{\"type\":\"fact\",\"subject\":\"K\",\"attribute\":\"member\",\"value\":{\"basic\":0}}", "value.basic" },
		{ "{\"type\":\"fact\",\"subject\":\"K\",\"attribute\":\"member\",\"value\":{\"nick\":\"x\"}}", "value.nick" },
		{ "{\"type\":\"fact\",\"subject\":\"K\",\"attribute\":\"member\",\"value\":{\"0x6e\":\"61\"}}", "write this item as \"name\"" },
		{ "{\"type\":\"fact\",\"subject\":\"K\",\"attribute\":\"endpoint\",\"value\":\"10.0.0.1\"}", "IPv4:PORT" },
		{ "{\"type\":\"fact\",\"subject\":\"K\",\"attribute\":\"endpoint\",\"value\":\"10.0.0.1:65536\"}", "IPv4:PORT" },
		{ "{\"type\":\"fact\",\"subject\":\"K\",\"attribute\":\"endpoint\",\"value\":\"2001:db8::1:80\"}", "IPv4:PORT" },
		{ "{\"type\":\"fact\",\"subject\":\"K\",\"attribute\":\"endpoint\",\"value\":\"[10.0.0.1]:80\"}", "IPv4:PORT" },
		{ "{\"type\":\"fact\",\"subject\":\"K\",\"attribute\":\"allowed_ip\",\"value\":\"10.0.0.1\"}", "CIDR" },
		{ "{\"type\":\"fact\",\"subject\":\"K\",\"attribute\":\"allowed_ip\",\"value\":\"10.0.0.0/33\"}", "CIDR" },
		{ "{\"type\":\"peer\",\"subject\":\"K\",\"attribute\":\"member\"}", "type" },
	};
	char kb[ELK_KEY_B64_LEN + 1];

	elk_key_to_base64(kb, key_b);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[512], *k;
		json_t *j;
		static struct elk_fact f;
		struct elk_err e = { "" };

		snprintf(buf, sizeof(buf), "%s", cases[i].rec);
		if ((k = strstr(buf, "\"K\""))) {
			char tail[512];

			snprintf(tail, sizeof(tail), "%s", k + 3);
			snprintf(k, sizeof(buf) - (size_t)(k - buf), "\"%s\"%s", kb, tail);
		}
		j = json_loads(buf, 0, NULL);
		T_CHECK(j != NULL, "test JSON %zu", i);
		T_EQ_INT(elk_fact_from_json(j, &f, &e), -EINVAL, cases[i].rec);
		T_CHECK(strstr(e.msg, cases[i].why) != NULL, "%s: reason \"%s\", want \"%s\"",
			cases[i].rec, e.msg, cases[i].why);
		json_decref(j);
	}
}

/* JSON conveniences: the ttl default, v4-mapped endpoints sent as 'e',
 * member items sorted as wirelink sorts them. */
static void json_encoding(void)
{
	char kb[ELK_KEY_B64_LEN + 1], buf[512];
	static struct elk_fact f;
	struct elk_err e;
	uint8_t out[256];
	size_t n;
	json_t *j;

	elk_key_to_base64(kb, key_b);
	snprintf(buf, sizeof(buf), "{\"type\":\"fact\",\"subject\":\"%s\",\"attribute\":\"endpoint\","
		 "\"value\":\"[::ffff:192.0.2.1]:51820\"}", kb);
	j = json_loads(buf, 0, NULL);
	T_EQ_INT(elk_fact_from_json(j, &f, &e), 0, "mapped endpoint");
	json_decref(j);
	T_EQ_INT(f.attr, 'e', "a mapped address travels as 'e'");
	T_EQ_INT(f.ttl, ELK_FACT_TTL_DEFAULT, "ttl defaults to 255");
	T_EQ_MEM(f.v.endpoint.addr, "\xc0\x00\x02\x01", 4, "address");

	snprintf(buf, sizeof(buf), "{\"type\":\"fact\",\"subject\":\"%s\",\"attribute\":\"member\","
		 "\"ttl\":1,\"value\":{\"0x7a\":\"\",\"basic\":true,\"0x01\":\"ff\",\"name\":\"x\"}}", kb);
	j = json_loads(buf, 0, NULL);
	T_EQ_INT(elk_fact_from_json(j, &f, &e), 0, "member");
	json_decref(j);
	T_EQ_INT(elk_fact_put(&f, out, sizeof(out), &n, &e), 0, "put");
	/* name first, then 0x01, 'b', 'z' */
	T_EQ_INT(n, 1 + 1 + 32 + 1 + 3 + 3 + 3 + 2, "member length");
	T_EQ_MEM(out + 34, "\x0b" "n\x01x" "\x01\x01\xff" "b\x01\x01" "z\x00", 12, "wirelink's item order");
}

static void packer(void)
{
	static struct elk_facts_packer p;
	static struct elk_fact alive, meta, m, big, unk;
	struct elk_err e;
	char name[200];
	int added = 0;

	alive = fact('!', 1);   /* 1 + 1 + 32 + 16 = 50 bytes */
	m = fact('m', 1);       /* 34 bytes */
	meta = fact('M', 1);
	memset(name, 'n', sizeof(name));
	meta_add(&meta.v.meta, 'n', name, 49); /* 1+1+32 + 1 + 2+49 = 86 bytes */

	elk_facts_packer_reset(&p);
	for (int i = 0; i < 21; i++)
		added += elk_facts_pack(&p, &alive, &e) == 0;
	T_EQ_INT(added, 21, "21 alive facts");
	T_EQ_INT(p.len, 1050, "1050 bytes");
	T_EQ_INT(elk_facts_pack(&p, &meta, &e), 0, "the group takes exactly 1136 bytes");
	T_EQ_INT(p.len, ELK_FACTS_GROUP_INNER_MAX, "full");
	T_EQ_INT(elk_facts_pack(&p, &m, &e), -ENOSPC, "not one byte more");

	elk_facts_packer_reset(&p);
	for (int i = 0; i < 21; i++)
		elk_facts_pack(&p, &alive, &e);
	meta.v.meta.len = 0;
	meta_add(&meta.v.meta, 'n', name, 50); /* 87 bytes: 1137 in all */
	T_EQ_INT(elk_facts_pack(&p, &meta, &e), -ENOSPC, "1137 bytes do not fit");
	T_EQ_INT(p.len, 1050, "the group is unchanged");

	big = fact('M', 1);
	/* 9 items of 122 bytes and one of 6: 1104, the most a value holds. */
	for (int i = 0; i < 9; i++)
		meta_add(&big.v.meta, (uint8_t)('0' + i), name, 120);
	meta_add(&big.v.meta, 'z', name, 4);
	T_EQ_INT(big.v.meta.len, ELK_FACT_VALUE_MAX, "largest member value");
	elk_facts_packer_reset(&p);
	T_EQ_INT(elk_facts_pack(&p, &big, &e), -EMSGSIZE, "a fact larger than any group");

	unk = fact('x', 1);
	elk_facts_packer_reset(&p);
	T_EQ_INT(elk_facts_pack(&p, &alive, &e), 0, "alive");
	T_EQ_INT(elk_facts_pack(&p, &unk, &e), 0, "unknown attribute");
	T_EQ_INT(elk_facts_pack(&p, &alive, &e), -ENOSPC, "an unknown fact closes its group");

	alive.ttl = 65536;
	elk_facts_packer_reset(&p);
	T_EQ_INT(elk_facts_pack(&p, &alive, &e), -EINVAL, "ttl 65536 is not encoded");
	T_CHECK(strstr(e.msg, "ttl") != NULL, "reason: %s", e.msg);
}

/* 300 endpoint facts through packer and seal: every group fits a datagram,
 * all verify, and all facts come back in order. */
static void many_groups(void)
{
	static struct elk_facts_packer p;
	static struct elk_fact f, g2;
	uint8_t d[ELK_FACTS_DGRAM_MAX];
	int groups = 0, back = 0, in_order = 1;
	struct elk_err e;

	elk_facts_packer_reset(&p);
	for (int i = 0; i <= 300; i++) {
		int r = 0;

		if (i < 300) {
			f = fact('e', 255);
			memcpy(f.v.endpoint.addr, "\x0a\x00\x00\x00", 4);
			f.v.endpoint.addr[2] = (uint8_t)(i >> 8);
			f.v.endpoint.addr[3] = (uint8_t)i;
			f.v.endpoint.port = 51820;
			r = elk_facts_pack(&p, &f, &e);
		}
		if (r == -ENOSPC || (i == 300 && p.len)) {
			size_t n;
			struct elk_facts_group g;
			struct elk_facts_iter it;

			T_CHECK(p.len <= ELK_FACTS_GROUP_INNER_MAX, "group of %zu bytes", p.len);
			T_EQ_INT(elk_facts_group_seal(d, &n, a_priv, b_pub, p.inner, p.len, &e), 0,
				 "seal");
			T_CHECK(n <= ELK_FACTS_DGRAM_MAX, "datagram of %zu bytes", n);
			T_EQ_INT(elk_facts_group_parse(d, n, &g, &e), 0, "parse");
			T_EQ_INT(elk_facts_group_verify(&g, b_priv, &e), 0, "verify");
			elk_facts_iter_init(&it, &g);
			while (elk_facts_iter_next(&it, &g2, &e) > 0) {
				in_order &= (g2.v.endpoint.addr[2] << 8 | g2.v.endpoint.addr[3]) == back;
				back++;
			}
			groups++;
			elk_facts_packer_reset(&p);
			if (i < 300)
				T_EQ_INT(elk_facts_pack(&p, &f, &e), 0, "fits a new group");
		}
	}
	/* 41 bytes each (two-byte ttl): 27 per group of at most 1136. */
	T_EQ_INT(groups, 12, "groups for 300 endpoints");
	T_EQ_INT(back, 300, "facts back");
	T_CHECK(in_order, "in order");
}

static void corpus_replay(void)
{
	static const char dir[] = "tests/fuzz/corpus/facts_wire";
	static uint8_t buf[65536];
	DIR *d = opendir(dir);
	struct dirent *de;
	int files = 0, before = t_fail;

	T_CHECK(d != NULL, "open %s", dir);
	if (!d)
		return;
	LLVMFuzzerInitialize(NULL, NULL);
	while ((de = readdir(d))) {
		char path[512];
		FILE *f;
		size_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (!(f = fopen(path, "rb")))
			continue;
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		corpus_file = de->d_name;
		LLVMFuzzerTestOneInput(buf, n);
		files++;
	}
	closedir(d);
	T_CHECK(files >= 80, "corpus: %d files", files);
	T_CHECK(t_fail == before, "corpus: every file keeps the codec's promises");
}

int main(void)
{
	if (sodium_init() < 0)
		return 111;
	mkkey(key_a, 0x10);
	mkkey(key_b, 0x40);
	load_keys();
	every_attribute();
	json_values();
	meta_rules();
	bad_facts();
	short_values();
	known_answer();
	sign_verify();
	source_address();
	bad_groups();
	corrupt_inner();
	vectors_and_truncation();
	vector_json();
	json_errors();
	json_encoding();
	packer();
	many_groups();
	corpus_replay();
	return T_DONE();
}
