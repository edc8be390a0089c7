/* test_trust.c - el-trust's trust model (lib/trust.h; FACTS-WIRE.md
 * "Trust"): the decision as a table over every attribute x subject known x
 * source level, the source level derived from policy and device, fact and
 * policy parsing, and the fold: new members, allowed IPs, endpoints, expiry
 * and removal when no trusted source vouches any longer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "trust.h"

/* Keys need not be curve points here: trust only compares them. */
static void mkkey(uint8_t k[ELK_KEY_LEN], int id)
{
	memset(k, 0, ELK_KEY_LEN);
	k[0] = (uint8_t)id;
	k[31] = 0x40;
}

static const char *b64(int id)
{
	static char buf[8][ELK_KEY_B64_LEN + 1];
	static int n;
	uint8_t k[ELK_KEY_LEN];
	char *o = buf[n++ % 8];

	mkkey(k, id);
	elk_key_to_base64(o, k);
	return o;
}

/* The key-derived link-local address every peer the fold writes keeps. */
static const char *ll(int id)
{
	static char buf[4][ELK_CIDR_STRLEN];
	static int n;
	uint8_t k[ELK_KEY_LEN];
	struct elk_cidr c = { .family = AF_INET6, .len = 128 };
	char *o = buf[n++ % 4];

	mkkey(k, id);
	elk_addr_ll_from_key(k, c.addr);
	elk_cidr_format(&c, o);
	return o;
}

enum { SELF = 1, ROUTER = 2, HOST = 3, ROUTER6 = 4, HOST6 = 5, STRANGER = 6, NEWC = 7,
       ROUTER2 = 8, CONNECTED = 9 };

static void add_peer(struct elk_device *d, int id, const char *ips, const char *endpoint,
		     int64_t handshake)
{
	struct elk_err e;
	json_t *rec = json_pack("{s:s,s:s}", "type", "peer", "public_key", b64(id));
	json_t *a = json_array();
	char *dup = strdup(ips), *save = NULL;

	for (char *t = strtok_r(dup, " ", &save); t; t = strtok_r(NULL, " ", &save))
		json_array_append_new(a, json_string(t));
	free(dup);
	json_object_set_new(rec, "allowed_ips", a);
	if (endpoint)
		json_object_set_new(rec, "endpoint", json_string(endpoint));
	T_EQ_INT(elk_device_apply_peer(d, rec, &e), 0, "apply peer");
	json_decref(rec);
	if (handshake) {
		uint8_t k[ELK_KEY_LEN];

		mkkey(k, id);
		elk_device_find_peer(d, k)->last_handshake = handshake;
	}
}

static void base_device(struct elk_device *d)
{
	memset(d, 0, sizeof(*d));
	add_peer(d, ROUTER, "10.0.0.1/32 10.1.0.0/16", NULL, 0);
	add_peer(d, HOST, "10.0.0.3/32", NULL, 0);
	add_peer(d, ROUTER6, "fd00::/64", NULL, 0);
	add_peer(d, HOST6, "fd00::5/128", NULL, 0);
	add_peer(d, ROUTER2, "10.2.0.0/24", NULL, 0);
	add_peer(d, CONNECTED, "10.0.0.9/32", "203.0.113.9:51820", 1000);
}

static struct elk_trust_fact fact(enum elk_trust_attr a, int subject, int source, uint32_t ttl,
				  const char *value)
{
	struct elk_trust_fact f;

	memset(&f, 0, sizeof(f));
	f.attr = a;
	mkkey(f.subject, subject);
	mkkey(f.source, source);
	f.ttl = ttl;
	if (a == ELK_TATTR_ENDPOINT)
		snprintf(f.endpoint, sizeof(f.endpoint), "%s", value);
	if (a == ELK_TATTR_ALLOWED_IP) {
		elk_cidr_parse(value, &f.allowed);
		elk_cidr_mask(&f.allowed);
	}
	return f;
}

#define B ELK_TRULE_BELIEVED
#define NEW ELK_TRULE_NEW_SUBJECT
#define INF ELK_TRULE_INFO
#define EP ELK_TRULE_ENDPOINT
#define AIP ELK_TRULE_ALLOWED_IPS
#define MEM ELK_TRULE_MEMBER

/* The rule table, written out rather than computed: [attr][known][level]. */
static const enum elk_trust_rule table[ELK_TATTRS][2][ELK_TRUST_LEVELS] = {
	/*                  unknown subject          known subject
	 *                  U    E    A    M          U    E    A    M */
	[ELK_TATTR_ALIVE] = { { INF, NEW, NEW, B }, { INF, B, B, B } },
	[ELK_TATTR_MEMBER] = { { MEM, MEM, MEM, B }, { MEM, MEM, MEM, B } },
	[ELK_TATTR_ENDPOINT] = { { EP, NEW, NEW, B }, { EP, B, B, B } },
	[ELK_TATTR_ALLOWED_IP] = { { AIP, AIP, NEW, B }, { AIP, AIP, B, B } },
	[ELK_TATTR_OTHER] = { { INF, NEW, NEW, B }, { INF, B, B, B } },
};

static const char *const values[ELK_TATTRS] = {
	[ELK_TATTR_ENDPOINT] = "192.0.2.1:51820", [ELK_TATTR_ALLOWED_IP] = "10.9.0.0/24",
};

static void test_table(void)
{
	uint8_t self[ELK_KEY_LEN];

	mkkey(self, SELF);
	for (int a = 0; a < ELK_TATTRS; a++)
		for (int known = 0; known < 2; known++)
			for (int l = 0; l < ELK_TRUST_LEVELS; l++) {
				struct elk_trust_fact f = fact(a, known ? HOST : NEWC, STRANGER, 9,
							       values[a]);
				char what[128];

				snprintf(what, sizeof(what), "attr %d known %d level %s", a, known,
					 elk_trust_level_name(l));
				/* The pure decision ... */
				T_EQ_STR(elk_trust_rule_name(elk_trust_decide(&f, self, l, known)),
					 elk_trust_rule_name(table[a][known][l]), what);
				/* ... never believes facts about ourselves ... */
				struct elk_trust_fact s = f;

				mkkey(s.subject, SELF);
				T_EQ_INT(elk_trust_decide(&s, self, l, known), ELK_TRULE_SELF, what);
				T_EQ_INT(elk_trust_decide(&s, NULL, l, known), table[a][known][l],
					 what);

				/* ... and the same through a policy naming the
				 * source and a device holding (or not) the subject. */
				struct elk_device d = { 0 };
				struct elk_trust_entry ent;
				struct elk_trust_policy p = { .peers = &ent, .n_peers = 1 };

				mkkey(ent.key, STRANGER);
				ent.level = l;
				add_peer(&d, known ? HOST : ROUTER, "10.0.0.3/32", NULL, 0);
				T_EQ_STR(elk_trust_rule_name(elk_trust_judge(&p, &d, self, &f)),
					 elk_trust_rule_name(table[a][known][l]), what);
				elk_device_clear(&d);
			}
	/* Every rule has words for --explain. */
	for (int r = ELK_TRULE_BELIEVED; r <= ELK_TRULE_NEW_SUBJECT; r++)
		T_CHECK(strlen(elk_trust_rule_text(r)) > 5 && strcmp(elk_trust_rule_name(r), "?"),
			"rule %d has a text and a name", r);
}

static void test_source_level(void)
{
	struct elk_device d;
	uint8_t k[ELK_KEY_LEN];
	struct elk_trust_entry ent[1];
	struct elk_trust_policy none = { 0 }, def = { .def = ELK_TRUST_ALLOWED_IPS },
				named = { .peers = ent, .n_peers = 1 };

	base_device(&d);
	struct {
		const struct elk_trust_policy *p;
		int id;
		enum elk_trust_level want;
		const char *what;
	} rows[] = {
		{ NULL, ROUTER, ELK_TRUST_MEMBERSHIP, "v4 router, no policy" },
		{ &none, ROUTER, ELK_TRUST_MEMBERSHIP, "v4 router" },
		{ &none, HOST, ELK_TRUST_ENDPOINT, "v4 host peer" },
		{ &none, ROUTER6, ELK_TRUST_MEMBERSHIP, "v6 router" },
		{ &none, HOST6, ELK_TRUST_ENDPOINT, "v6 host peer" },
		{ &none, STRANGER, ELK_TRUST_UNTRUSTED, "not on the device" },
		{ &def, STRANGER, ELK_TRUST_ALLOWED_IPS, "default for strangers" },
		{ &def, HOST, ELK_TRUST_ALLOWED_IPS, "default is a floor" },
		{ &def, ROUTER, ELK_TRUST_MEMBERSHIP, "router above the default" },
		/* Naming any peer turns router derivation off (wirelink). */
		{ &named, ROUTER, ELK_TRUST_ENDPOINT, "router, policy names a peer" },
		{ &named, HOST, ELK_TRUST_UNTRUSTED, "explicit level wins, even lower" },
	};

	mkkey(ent[0].key, HOST);
	ent[0].level = ELK_TRUST_UNTRUSTED;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		mkkey(k, rows[i].id);
		T_EQ_STR(elk_trust_level_name(elk_trust_source_level(rows[i].p, &d, k)),
			 elk_trust_level_name(rows[i].want), rows[i].what);
	}
	mkkey(k, ROUTER);
	T_EQ_INT(elk_trust_source_level(NULL, NULL, k), ELK_TRUST_UNTRUSTED, "no device");
	elk_device_clear(&d);
}

static void test_parse(void)
{
	static const struct {
		const char *json;
		int ok;
		int attr;
		const char *err;
	} rows[] = {
		{ "{\"subject\":\"S\",\"attribute\":\"endpoint\",\"value\":\"192.0.2.1:51820\",\"ttl\":9,\"source\":\"R\"}",
		  1, ELK_TATTR_ENDPOINT, NULL },
		{ "{\"subject\":\"S\",\"attribute\":\"endpoint\",\"value\":\"[2001:db8::1]:51820\",\"source\":\"R\"}",
		  1, ELK_TATTR_ENDPOINT, NULL },
		{ "{\"subject\":\"S\",\"attribute\":\"allowed_ip\",\"value\":\"10.1.2.3/16\",\"source\":\"R\"}",
		  1, ELK_TATTR_ALLOWED_IP, NULL },
		{ "{\"subject\":\"S\",\"attribute\":\"member\",\"value\":null,\"source\":\"R\"}", 1,
		  ELK_TATTR_MEMBER, NULL },
		{ "{\"subject\":\"S\",\"attribute\":\"member\",\"value\":{\"name\":\"x\",\"basic\":true},\"source\":\"R\"}",
		  1, ELK_TATTR_MEMBER, NULL },
		{ "{\"subject\":\"S\",\"attribute\":\"alive\",\"value\":\"00ff\",\"source\":\"R\"}", 1,
		  ELK_TATTR_ALIVE, NULL },
		{ "{\"subject\":\"S\",\"attribute\":\"0x7a\",\"value\":\"00\",\"source\":\"R\"}", 1,
		  ELK_TATTR_OTHER, NULL },
		{ "{\"subject\":\"S\",\"attribute\":\"endpoint\",\"value\":\"nope\",\"source\":\"R\"}", 0, 0,
		  "value: \"nope\" is not an endpoint (ip:port or [v6]:port)" },
		{ "{\"subject\":\"S\",\"attribute\":\"allowed_ip\",\"value\":\"10.0.0.300/8\",\"source\":\"R\"}",
		  0, 0, "value: \"10.0.0.300/8\" is not a CIDR" },
		{ "{\"subject\":\"S\",\"attribute\":\"member\",\"value\":3,\"source\":\"R\"}", 0, 0,
		  "value: a member fact's value is null or an object" },
		{ "{\"subject\":\"S\",\"attribute\":\"endpoint\",\"value\":\"192.0.2.1:1\"}", 0, 0,
		  "source: missing" },
		{ "{\"attribute\":\"endpoint\",\"value\":\"192.0.2.1:1\",\"source\":\"R\"}", 0, 0,
		  "subject: missing" },
		{ "{\"subject\":\"S\",\"attribute\":\"alive\",\"ttl\":65536,\"source\":\"R\"}", 0, 0, NULL },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		/* S and R stand for keys, spliced in here. */
		char buf[512], *o = buf;
		struct elk_trust_fact f;
		struct elk_err e = { "" };

		for (const char *c = rows[i].json; *c; c++) {
			if (c[0] == '"' && (c[1] == 'S' || c[1] == 'R') && c[2] == '"')
				o += sprintf(o, "\"%s\"", b64(c[1] == 'S' ? HOST : ROUTER)), c += 2;
			else
				*o++ = *c;
		}
		*o = 0;
		json_t *rec = json_loads(buf, 0, NULL);
		int r = elk_trust_fact_from_json(rec, &f, &e);

		T_EQ_INT(r, rows[i].ok ? 0 : -EINVAL, buf);
		if (rows[i].ok)
			T_EQ_INT(f.attr, rows[i].attr, buf);
		if (rows[i].err)
			T_EQ_STR(e.msg, rows[i].err, buf);
		json_decref(rec);
		if (i == 0)
			T_EQ_INT(f.ttl, 9, "ttl");
		if (i == 1)
			T_EQ_INT(f.ttl, 255, "ttl absent: wirelink's 255");
		if (i == 2) {
			char c[ELK_CIDR_STRLEN];

			elk_cidr_format(&f.allowed, c);
			T_EQ_STR(c, "10.1.0.0/16", "allowed_ip masked");
		}
	}
}

static void test_policy(void)
{
	char ok[256];
	struct {
		const char *json;
		const char *err;
	} bad[] = {
		{ "{\"default\":\"endpoint\",\"colour\":1}", "colour: unknown key (a policy has \"default\" and \"peers\")" },
		{ "{\"default\":\"trusted\"}", "default: not a trust level (untrusted, endpoint, allowed-ips, membership)" },
		{ "{\"peers\":[]}", "peers: an object of public key: level" },
		{ "{\"peers\":{\"abc\":\"endpoint\"}}", "peers: \"abc\" is not a public key" },
		{ "[]", "a policy is a JSON object" },
	};
	struct elk_trust_policy p;
	struct elk_err e;

	snprintf(ok, sizeof(ok), "{\"default\":\"endpoint\",\"peers\":{\"%s\":\"membership\",\"%s\":\"allowed-ips\"}}",
		 b64(HOST), b64(ROUTER));
	json_t *doc = json_loads(ok, 0, NULL);

	T_EQ_INT(elk_trust_policy_from_json(doc, &p, &e), 0, "good policy");
	T_EQ_INT(p.def, ELK_TRUST_ENDPOINT, "default");
	T_EQ_INT(p.n_peers, 2, "peers");
	T_EQ_INT(p.peers[0].level, ELK_TRUST_MEMBERSHIP, "first level");
	elk_trust_policy_clear(&p);
	json_decref(doc);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		doc = json_loads(bad[i].json, 0, NULL);
		T_EQ_INT(elk_trust_policy_from_json(doc, &p, &e), -EINVAL, bad[i].json);
		T_EQ_STR(e.msg, bad[i].err, bad[i].json);
		json_decref(doc);
	}
	snprintf(ok, sizeof(ok), "{\"peers\":{\"%s\":\"root\"}}", b64(HOST));
	doc = json_loads(ok, 0, NULL);
	T_EQ_INT(elk_trust_policy_from_json(doc, &p, &e), -EINVAL, "bad peer level");
	T_CHECK(strstr(e.msg, b64(HOST)) && strstr(e.msg, "not a trust level"), "%s", e.msg);
	json_decref(doc);
	enum elk_trust_level l;

	for (int i = 0; i < ELK_TRUST_LEVELS; i++)
		T_CHECK(elk_trust_level_parse(elk_trust_level_name(i), &l) == 0 && (int)l == i,
			"level %d round trip", i);
}

/* The records a sync produced, compact and in order, one per line. */
static char *synced(struct elk_trust_fold *t, int64_t now)
{
	json_t *out = json_array();
	size_t i, n = 0;
	json_t *rec;
	static char buf[4096];

	buf[0] = 0;
	T_EQ_INT(elk_trust_fold_sync(t, now, out), 0, "sync");
	json_array_foreach(out, i, rec) {
		char *s = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);

		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", n ? "\n" : "", s);
		free(s);
	}
	json_decref(out);
	return buf;
}

static void add(struct elk_trust_fold *t, struct elk_trust_fact f, int64_t now,
		enum elk_trust_rule want, const char *what)
{
	T_EQ_STR(elk_trust_rule_name(elk_trust_fold_add(t, &f, now)), elk_trust_rule_name(want),
		 what);
}

static void test_fold_member(void)
{
	struct elk_device d;
	struct elk_trust_fold t;
	uint8_t self[ELK_KEY_LEN];
	char want[512];

	base_device(&d);
	mkkey(self, SELF);
	T_EQ_INT(elk_trust_fold_init(&t, NULL, &d, self, 1000), 0, "init");
	T_EQ_STR(synced(&t, 0), "", "nothing yet");
	T_EQ_INT(elk_trust_fold_next_event(&t), -1, "no expiry yet");

	/* Strangers and mere peers cannot bring new members. */
	add(&t, fact(ELK_TATTR_MEMBER, NEWC, HOST, 10, NULL), 0, MEM, "member from a host peer");
	add(&t, fact(ELK_TATTR_ENDPOINT, NEWC, HOST, 10, "192.0.2.7:51820"), 0, NEW,
	    "endpoint of a stranger from a host peer");
	add(&t, fact(ELK_TATTR_MEMBER, NEWC, STRANGER, 10, NULL), 0, MEM, "member from a stranger");
	add(&t, fact(ELK_TATTR_MEMBER, SELF, ROUTER, 10, NULL), 0, ELK_TRULE_SELF, "about us");
	add(&t, fact(ELK_TATTR_ALIVE, HOST, HOST, 10, NULL), 0, B, "alive: believed, not stored");
	T_EQ_STR(synced(&t, 0), "", "rejected facts change nothing");
	T_EQ_INT(elk_trust_fold_next_event(&t), -1, "nothing stored");

	/* A router vouches for C: one record with all it said. */
	add(&t, fact(ELK_TATTR_ALLOWED_IP, NEWC, ROUTER, 10, "10.7.0.0/24"), 0, B, "ip");
	add(&t, fact(ELK_TATTR_ENDPOINT, NEWC, ROUTER, 10, "192.0.2.7:51820"), 0, B, "endpoint");
	add(&t, fact(ELK_TATTR_MEMBER, NEWC, ROUTER, 10, NULL), 0, B, "member");
	add(&t, fact(ELK_TATTR_MEMBER, NEWC, ROUTER2, 20, NULL), 0, B, "member from router 2");
	snprintf(want, sizeof(want),
		 "{\"type\":\"peer\",\"public_key\":\"%s\",\"allowed_ips\":[\"%s\",\"10.7.0.0/24\"],"
		 "\"endpoint\":\"192.0.2.7:51820\"}", b64(NEWC), ll(NEWC));
	T_EQ_STR(synced(&t, 1), want, "new member");
	T_EQ_STR(synced(&t, 2), "", "steady");
	T_EQ_INT(elk_trust_fold_next_event(&t), 10, "next expiry");

	/* Now on the device, C's endpoint may come from any peer. */
	add(&t, fact(ELK_TATTR_ENDPOINT, NEWC, HOST, 30, "192.0.2.8:51820"), 3, B,
	    "endpoint of a known peer from a host peer");
	T_EQ_STR(synced(&t, 3), "", "current endpoint still vouched: kept");

	/* Router 1's facts expire: its allowed IP goes, router 2 still
	 * vouches for membership, host's endpoint remains. */
	snprintf(want, sizeof(want),
		 "{\"type\":\"peer\",\"public_key\":\"%s\",\"replace_allowed_ips\":true,"
		 "\"allowed_ips\":[\"%s\"],\"endpoint\":\"192.0.2.8:51820\"}", b64(NEWC), ll(NEWC));
	T_EQ_STR(synced(&t, 10), want, "router 1 expired");

	/* Router 2 re-announces: the expiry moves, no change. */
	add(&t, fact(ELK_TATTR_MEMBER, NEWC, ROUTER2, 20, NULL), 15, B, "re-announced");
	T_EQ_INT(t.n_facts, 2, "a re-announcement refreshes, not piles up");
	T_EQ_STR(synced(&t, 20), "", "still vouched at 20");
	T_EQ_INT(elk_trust_fold_next_event(&t), 33, "host's endpoint expires last");
	snprintf(want, sizeof(want), "{\"type\":\"peer\",\"public_key\":\"%s\",\"remove\":true}",
		 b64(NEWC));
	T_EQ_STR(synced(&t, 35), want, "no voucher left: removed");

	/* Gone again: a mere peer's facts about it are new-subject again. */
	add(&t, fact(ELK_TATTR_ENDPOINT, NEWC, HOST, 30, "192.0.2.8:51820"), 36, NEW,
	    "removed subject is unknown again");
	T_EQ_STR(synced(&t, 36), "", "nothing after removal");
	elk_trust_fold_free(&t);
	elk_device_clear(&d);
}

static void test_fold_configured(void)
{
	struct elk_device d;
	struct elk_trust_fold t;
	char want[512];

	base_device(&d);
	T_EQ_INT(elk_trust_fold_init(&t, NULL, &d, NULL, 1100), 0, "init");

	/* A configured peer without an endpoint gets the one a peer tells. */
	add(&t, fact(ELK_TATTR_ENDPOINT, HOST6, HOST, 10, "[2001:db8::6]:51820"), 0, B, "ep");
	add(&t, fact(ELK_TATTR_ALLOWED_IP, HOST6, HOST, 10, "10.6.0.0/16"), 0, AIP,
	    "allowed ip from a host peer");
	snprintf(want, sizeof(want),
		 "{\"type\":\"peer\",\"public_key\":\"%s\",\"endpoint\":\"[2001:db8::6]:51820\"}",
		 b64(HOST6));
	T_EQ_STR(synced(&t, 0), want, "endpoint for a peer without one");

	/* A router adds a network; the configured host address stays. */
	add(&t, fact(ELK_TATTR_ALLOWED_IP, HOST, ROUTER6, 5, "10.3.0.0/16"), 0, B, "ip");
	add(&t, fact(ELK_TATTR_ALLOWED_IP, HOST, ROUTER6, 5, "10.0.0.3/32"), 0, B, "dup of base");
	snprintf(want, sizeof(want),
		 "{\"type\":\"peer\",\"public_key\":\"%s\",\"replace_allowed_ips\":true,"
		 "\"allowed_ips\":[\"10.0.0.3/32\",\"%s\",\"10.3.0.0/16\"]}", b64(HOST), ll(HOST));
	T_EQ_STR(synced(&t, 1), want, "network added");
	/* Expiry takes back what facts gave and never removes the peer. */
	snprintf(want, sizeof(want),
		 "{\"type\":\"peer\",\"public_key\":\"%s\",\"replace_allowed_ips\":true,"
		 "\"allowed_ips\":[\"10.0.0.3/32\",\"%s\"]}", b64(HOST), ll(HOST));
	T_EQ_STR(synced(&t, 5), want, "network expired, peer kept");
	T_EQ_STR(synced(&t, 100), "", "configured peers are never removed");

	/* A peer with a recent handshake keeps its endpoint. */
	add(&t, fact(ELK_TATTR_ENDPOINT, CONNECTED, ROUTER, 10, "192.0.2.99:1"), 100, B, "ep");
	T_EQ_STR(synced(&t, 100), "", "connected peer's endpoint kept");
	elk_trust_fold_free(&t);

	/* Without a recent handshake, an endpoint no fact vouches for is
	 * replaced by the newest that one does, and then kept. */
	T_EQ_INT(elk_trust_fold_init(&t, NULL, &d, NULL, 5000), 0, "init, handshake stale");
	add(&t, fact(ELK_TATTR_ENDPOINT, CONNECTED, ROUTER, 10, "192.0.2.99:1"), 0, B, "ep");
	snprintf(want, sizeof(want),
		 "{\"type\":\"peer\",\"public_key\":\"%s\",\"endpoint\":\"192.0.2.99:1\"}",
		 b64(CONNECTED));
	T_EQ_STR(synced(&t, 0), want, "stale endpoint replaced");
	add(&t, fact(ELK_TATTR_ENDPOINT, CONNECTED, HOST, 10, "192.0.2.98:1"), 1, B, "ep2");
	T_EQ_STR(synced(&t, 1), "", "vouched endpoint kept");
	elk_trust_fold_free(&t);
	elk_device_clear(&d);
}

static void test_fold_policy(void)
{
	struct elk_device d;
	struct elk_trust_fold t;
	struct elk_trust_entry ent;
	struct elk_trust_policy p = { .peers = &ent, .n_peers = 1 };
	char want[512];

	/* Trust named by policy reaches a source not on the device; naming
	 * it turns router derivation off, so ROUTER may not add members. */
	base_device(&d);
	mkkey(ent.key, STRANGER);
	ent.level = ELK_TRUST_MEMBERSHIP;
	T_EQ_INT(elk_trust_fold_init(&t, &p, &d, NULL, 0), 0, "init");
	add(&t, fact(ELK_TATTR_MEMBER, NEWC, ROUTER, 10, NULL), 0, MEM, "router without trust");
	add(&t, fact(ELK_TATTR_MEMBER, NEWC, STRANGER, 10, NULL), 0, B, "named member source");
	snprintf(want, sizeof(want),
		 "{\"type\":\"peer\",\"public_key\":\"%s\",\"allowed_ips\":[\"%s\"]}", b64(NEWC),
		 ll(NEWC));
	T_EQ_STR(synced(&t, 0), want, "member with nothing else known");
	/* Trust is judged by the base device: the peer we added vouches for
	 * nobody, even when it routes a network. */
	add(&t, fact(ELK_TATTR_ALLOWED_IP, NEWC, STRANGER, 10, "10.8.0.0/16"), 0, B, "ip");
	T_CHECK(strstr(synced(&t, 0), "10.8.0.0/16") != NULL, "network added");
	add(&t, fact(ELK_TATTR_MEMBER, ROUTER + 100, NEWC, 10, NULL), 0, MEM,
	    "an added router cannot add members");
	elk_trust_fold_free(&t);
	elk_device_clear(&d);
}

/* Health: allowed IPs from facts only while facts from the peer itself
 * keep coming; endpoints rotate over the candidates while it is silent. */
static void test_fold_health(void)
{
	struct elk_device d;
	struct elk_trust_fold t;
	uint8_t k[ELK_KEY_LEN];
	char want[512];

	base_device(&d);
	T_EQ_INT(elk_trust_fold_init(&t, NULL, &d, NULL, 1000), 0, "init");
	t.stale = 5;
	t.try_every = 3;
	add(&t, fact(ELK_TATTR_MEMBER, NEWC, ROUTER, 100, NULL), 0, B, "member");
	add(&t, fact(ELK_TATTR_ALLOWED_IP, NEWC, ROUTER, 100, "10.7.0.3/32"), 0, B, "ip");
	add(&t, fact(ELK_TATTR_ENDPOINT, NEWC, ROUTER, 100, "192.0.2.7:51820"), 0, B, "ep 1");
	add(&t, fact(ELK_TATTR_ENDPOINT, NEWC, ROUTER, 100, "198.51.100.7:51820"), 0, B, "ep 2");
	/* Not heard from yet: a member with its link-local address only, at
	 * the newest candidate. */
	snprintf(want, sizeof(want),
		 "{\"type\":\"peer\",\"public_key\":\"%s\",\"allowed_ips\":[\"%s\"],"
		 "\"endpoint\":\"198.51.100.7:51820\"}", b64(NEWC), ll(NEWC));
	T_EQ_STR(synced(&t, 0), want, "added, not healthy");
	T_EQ_INT(elk_trust_fold_next_event(&t), 3, "next: the other candidate's turn");
	T_EQ_STR(synced(&t, 2), "", "still trying the first");
	snprintf(want, sizeof(want),
		 "{\"type\":\"peer\",\"public_key\":\"%s\",\"endpoint\":\"192.0.2.7:51820\"}",
		 b64(NEWC));
	T_EQ_STR(synced(&t, 3), want, "rotated to the least recently tried");
	snprintf(want, sizeof(want),
		 "{\"type\":\"peer\",\"public_key\":\"%s\",\"endpoint\":\"198.51.100.7:51820\"}",
		 b64(NEWC));
	T_EQ_STR(synced(&t, 6), want, "and back");

	/* It speaks: its allowed IPs go in, the endpoint that works stays. */
	mkkey(k, NEWC);
	T_EQ_INT(elk_trust_fold_heard(&t, k, 7), 0, "heard");
	snprintf(want, sizeof(want),
		 "{\"type\":\"peer\",\"public_key\":\"%s\",\"replace_allowed_ips\":true,"
		 "\"allowed_ips\":[\"%s\",\"10.7.0.3/32\"]}", b64(NEWC), ll(NEWC));
	T_EQ_STR(synced(&t, 7), want, "healthy: allowed IPs");
	T_EQ_INT(elk_trust_fold_next_event(&t), 12, "next: when it would turn stale");
	T_EQ_STR(synced(&t, 11), "", "healthy, no rotation");
	T_EQ_INT(elk_trust_fold_heard(&t, k, 10), 0, "heard again (late arrival order)");
	T_EQ_STR(synced(&t, 14), "", "still healthy at 14");
	/* Silence for stale seconds: the facts' allowed IPs go (a router's
	 * network carries its traffic), and rotation resumes. */
	snprintf(want, sizeof(want),
		 "{\"type\":\"peer\",\"public_key\":\"%s\",\"replace_allowed_ips\":true,"
		 "\"allowed_ips\":[\"%s\"],\"endpoint\":\"192.0.2.7:51820\"}", b64(NEWC),
		 ll(NEWC));
	T_EQ_STR(synced(&t, 15), want, "stale: withdrawn, next candidate");
	/* Configured allowed IPs are never withdrawn: HOST is silent and
	 * keeps 10.0.0.3/32, gets nothing more from facts. */
	add(&t, fact(ELK_TATTR_ALLOWED_IP, HOST, ROUTER, 100, "10.3.0.0/16"), 15, B, "host net");
	T_EQ_STR(synced(&t, 16), "", "a silent configured peer: unchanged");
	mkkey(k, HOST);
	T_EQ_INT(elk_trust_fold_heard(&t, k, 16), 0, "host heard");
	snprintf(want, sizeof(want),
		 "{\"type\":\"peer\",\"public_key\":\"%s\",\"replace_allowed_ips\":true,"
		 "\"allowed_ips\":[\"10.0.0.3/32\",\"%s\",\"10.3.0.0/16\"]}", b64(HOST),
		 ll(HOST));
	T_EQ_STR(synced(&t, 16), want, "host healthy: network added");
	/* A single candidate never rotates, and never wakes the loop. */
	mkkey(k, STRANGER);
	T_EQ_INT(elk_trust_fold_heard(&t, k, 16), 0, "a stranger heard: harmless");
	elk_trust_fold_free(&t);

	T_EQ_INT(elk_trust_fold_init(&t, NULL, &d, NULL, 1000), 0, "init 2");
	t.stale = 5;
	t.try_every = 3;
	add(&t, fact(ELK_TATTR_MEMBER, NEWC, ROUTER, 100, NULL), 0, B, "member");
	add(&t, fact(ELK_TATTR_ENDPOINT, NEWC, ROUTER, 100, "192.0.2.7:51820"), 0, B, "ep");
	T_CHECK(strstr(synced(&t, 0), "192.0.2.7:51820") != NULL, "added at its one endpoint");
	add(&t, fact(ELK_TATTR_ENDPOINT, NEWC, HOST, 100, "192.0.2.7:51820"), 0, B,
	    "the same endpoint from another source");
	T_EQ_INT(elk_trust_fold_next_event(&t), 100, "only expiry ahead");
	T_EQ_STR(synced(&t, 50), "", "no rotation with one candidate");
	elk_trust_fold_free(&t);
	elk_device_clear(&d);
}

/* As if someone removed peer id from d. */
static void drop_peer(struct elk_device *d, int id)
{
	uint8_t k[ELK_KEY_LEN];

	mkkey(k, id);
	for (size_t i = 0; i < d->n_peers; i++)
		if (elk_key_eq(d->peers[i].public_key, k)) {
			elk_peer_clear(&d->peers[i]);
			d->peers[i] = d->peers[--d->n_peers];
			return;
		}
	T_CHECK(0, "no peer %d to drop", id);
}

/* The device read again: new configured peers count as sources, the
 * fold's own additions never do, what it gave stays its own. */
static void test_fold_rebase(void)
{
	struct elk_device d, d2;
	struct elk_trust_fold t;
	uint8_t k[ELK_KEY_LEN];
	char want[512];

	base_device(&d);
	T_EQ_INT(elk_trust_fold_init(&t, NULL, &d, NULL, 1000), 0, "init");
	enum { ROUTER3 = 10, NEWD = 11 };

	/* Before: ROUTER3 is nobody. */
	add(&t, fact(ELK_TATTR_MEMBER, NEWD, ROUTER3, 100, NULL), 0, MEM, "stranger's member");
	/* NEWC joins through ROUTER, with a network of its own; HOST gets a
	 * network from ROUTER6. */
	add(&t, fact(ELK_TATTR_MEMBER, NEWC, ROUTER, 100, NULL), 0, B, "member");
	add(&t, fact(ELK_TATTR_ALLOWED_IP, NEWC, ROUTER, 100, "10.8.0.0/16"), 0, B, "net");
	add(&t, fact(ELK_TATTR_ALLOWED_IP, HOST, ROUTER6, 10, "10.3.0.0/16"), 0, B, "host net");
	T_CHECK(strstr(synced(&t, 0), "10.8.0.0/16") != NULL, "NEWC added with its network");

	/* The device as el-link apply left it, plus ROUTER3 configured by
	 * someone else, minus ROUTER2 removed by someone else, and with a
	 * fresh handshake of NEWC's. */
	base_device(&d2);
	add_peer(&d2, NEWC, "10.8.0.0/16", "192.0.2.7:51820", 2000);
	add_peer(&d2, ROUTER3, "10.30.0.0/16", NULL, 0);
	mkkey(k, HOST);
	{
		struct elk_peer *h = elk_device_find_peer(&d2, k);
		struct elk_cidr *g = realloc(h->allowed_ips, 3 * sizeof(*g));

		T_CHECK(g != NULL, "realloc");
		h->allowed_ips = g;
		T_EQ_INT(elk_cidr_parse("10.3.0.0/16", &g[h->n_allowed_ips++]), 0, "cidr");
	}
	drop_peer(&d2, ROUTER2);
	T_EQ_INT(elk_trust_fold_rebase(&t, &d2, 2001), 0, "rebase");
	T_EQ_STR(synced(&t, 1), "", "the device is as the fold wants it");

	mkkey(k, ROUTER3);
	T_EQ_STR(elk_trust_level_name(elk_trust_fold_source_level(&t, k)), "membership",
		 "a router configured meanwhile vouches for members");
	add(&t, fact(ELK_TATTR_MEMBER, NEWD, ROUTER3, 100, NULL), 1, B, "its member");
	mkkey(k, NEWC);
	T_EQ_STR(elk_trust_level_name(elk_trust_fold_source_level(&t, k)), "untrusted",
		 "a peer the fold added is nobody, network or not");
	mkkey(k, ROUTER2);
	T_EQ_STR(elk_trust_level_name(elk_trust_fold_source_level(&t, k)), "untrusted",
		 "a router removed meanwhile is nobody");
	snprintf(want, sizeof(want), "{\"type\":\"peer\",\"public_key\":\"%s\",\"allowed_ips\":[\"%s\"]}",
		 b64(NEWD), ll(NEWD));
	T_EQ_STR(synced(&t, 1), want, "ROUTER3's member added");

	/* HOST's network came from facts: still withdrawn when they expire. */
	snprintf(want, sizeof(want),
		 "{\"type\":\"peer\",\"public_key\":\"%s\",\"replace_allowed_ips\":true,"
		 "\"allowed_ips\":[\"10.0.0.3/32\",\"%s\"]}", b64(HOST), ll(HOST));
	T_EQ_STR(synced(&t, 10), want, "the fold's network is not configuration");

	/* Someone removes NEWC while ROUTER still vouches: added back. */
	drop_peer(&d2, NEWC);
	T_EQ_INT(elk_trust_fold_rebase(&t, &d2, 2002), 0, "rebase 2");
	T_CHECK(strstr(synced(&t, 11), "10.8.0.0/16") != NULL, "NEWC added again");
	elk_trust_fold_free(&t);
	elk_device_clear(&d);
	elk_device_clear(&d2);
}

int main(void)
{
	elk_init("test_trust");
	test_table();
	test_source_level();
	test_parse();
	test_policy();
	test_fold_member();
	test_fold_configured();
	test_fold_policy();
	test_fold_health();
	test_fold_rebase();
	return T_DONE();
}
