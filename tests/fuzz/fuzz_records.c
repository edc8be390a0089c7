/* fuzz_records.c - libFuzzer harness for the JSON records every command
 * reads: lib/records.c (the line reader and record parser), lib/model.c's
 * elk_device_apply_iface() / elk_device_apply_peer() (record -> device
 * model, used by el-link, el-keyx and el-trust), lib/keyx.c's
 * elk_keyx_config_from_json() (the offer el-keyx reads from the network)
 * and lib/trust.c's elk_trust_fact_from_json() / elk_trust_policy_from_json().
 *
 * Each input is a record stream: read line by line with elk_reader, every
 * record handed to every converter (each looks only at its own fields), a
 * record's "config" member to the keyx parser, the record without "type"
 * and the whole input as one document to the policy parser. Beyond "no
 * crash, no sanitizer report" it asserts:
 *   - the reader returns non-blank lines without a newline, no longer than
 *     its bound, with line numbers that only grow;
 *   - a failed apply leaves the device exactly as it was, and every
 *     failure has a message;
 *   - the device model stays well formed (valid name, prefixes, MTU,
 *     endpoints; peers' prefixes masked), and the records that describe it
 *     (elk_iface_record, elk_peer_record) rebuild the same device;
 *   - a keyx config reparses from its own JSON to the same JSON and the
 *     same MAC (both sides of el-keyx must agree on the transcript), and
 *     the iface/peer records el-keyx prints from it, for the destination,
 *     the source and the next source, are accepted by the model;
 *   - parsed facts and policies hold only valid values.
 * Built and run by tests/fuzz/run.sh; seeds in tests/fuzz/corpus/records,
 * which tests/unit/test_fuzz_replay.c replays through this file without
 * libFuzzer.
 */
#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyx.h"
#include "model.h"
#include "records.h"
#include "trust.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Fixed keys for the records el-keyx would print (RFC 7748's Alice). */
static uint8_t rec_priv[ELK_KEY_LEN], rec_pub[ELK_KEY_LEN];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* as every command starts: libsodium, and jansson's wiping allocator */
	elk_init("fuzz_records");
	if (elk_key_from_base64(rec_priv, "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=") ||
	    elk_key_public(rec_pub, rec_priv))
		abort();
	return 0;
}

/* CHECK(c): a promise; see fuzz.h. */
#include "fuzz.h"
/* The same in a function that returns a value. */
#define CHECK_R(c, ret)                  \
	do {                             \
		if (!(c)) {              \
			FUZZ_FAIL(#c);   \
			return (ret);    \
		}                        \
	} while (0)

/* ---- the device model: copy, compare, well-formedness ---------------- */

static int rec_cidrs_copy(struct elk_cidr **dst, const struct elk_cidr *src, size_t n)
{
	*dst = NULL;
	if (!n)
		return 0;
	*dst = malloc(n * sizeof(*src));
	if (!*dst)
		abort();
	memcpy(*dst, src, n * sizeof(*src));
	return 0;
}

static void rec_dev_copy(struct elk_device *dst, const struct elk_device *src)
{
	*dst = *src;
	rec_cidrs_copy(&dst->addresses, src->addresses, src->n_addresses);
	rec_cidrs_copy(&dst->dns, src->dns, src->n_dns);
	dst->peers = NULL;
	if (src->n_peers) {
		dst->peers = malloc(src->n_peers * sizeof(*src->peers));
		if (!dst->peers)
			abort();
	}
	for (size_t i = 0; i < src->n_peers; i++) {
		dst->peers[i] = src->peers[i];
		rec_cidrs_copy(&dst->peers[i].allowed_ips, src->peers[i].allowed_ips,
			       src->peers[i].n_allowed_ips);
	}
}

static int rec_cidrs_eq(const struct elk_cidr *a, size_t na, const struct elk_cidr *b, size_t nb)
{
	return na == nb && (!na || !memcmp(a, b, na * sizeof(*a)));
}

/* Field by field: the structs hold no padding-sensitive data we compare
 * as bytes except the key and string arrays, compared whole. */
static int rec_dev_eq(const struct elk_device *a, const struct elk_device *b)
{
	if (a->flags != b->flags || memcmp(a->name, b->name, sizeof(a->name)) ||
	    memcmp(a->private_key, b->private_key, ELK_KEY_LEN) ||
	    memcmp(a->public_key, b->public_key, ELK_KEY_LEN) || a->listen_port != b->listen_port ||
	    a->fwmark != b->fwmark || a->mtu != b->mtu ||
	    !rec_cidrs_eq(a->addresses, a->n_addresses, b->addresses, b->n_addresses) ||
	    !rec_cidrs_eq(a->dns, a->n_dns, b->dns, b->n_dns) || a->n_peers != b->n_peers)
		return 0;
	for (size_t i = 0; i < a->n_peers; i++) {
		const struct elk_peer *p = &a->peers[i], *q = &b->peers[i];

		if (p->flags != q->flags || memcmp(p->public_key, q->public_key, ELK_KEY_LEN) ||
		    memcmp(p->preshared_key, q->preshared_key, ELK_KEY_LEN) ||
		    strcmp(p->endpoint, q->endpoint) ||
		    p->persistent_keepalive_interval != q->persistent_keepalive_interval ||
		    !rec_cidrs_eq(p->allowed_ips, p->n_allowed_ips, q->allowed_ips, q->n_allowed_ips) ||
		    p->last_handshake != q->last_handshake || p->rx_bytes != q->rx_bytes ||
		    p->tx_bytes != q->tx_bytes)
			return 0;
	}
	return 1;
}

static int rec_cidr_ok(const struct elk_cidr *c, int masked)
{
	struct elk_cidr m = *c;

	if ((c->family != AF_INET && c->family != AF_INET6) || c->len > elk_family_bits(c->family))
		return 0;
	if (c->family == AF_INET && !sodium_is_zero(c->addr + 4, 12))
		return 0;
	elk_cidr_mask(&m);
	return !masked || !memcmp(&m, c, sizeof(m));
}

static int rec_endpoint_ok(const char *ep)
{
	char host[256];
	uint16_t port;

	return memchr(ep, 0, ELK_ENDPOINT_MAX) && !elk_endpoint_split(ep, host, sizeof(host), &port);
}

static void rec_check_dev(const struct elk_device *d)
{
	uint8_t pub[ELK_KEY_LEN];

	CHECK(memchr(d->name, 0, sizeof(d->name)) != NULL);
	CHECK(!(d->flags & ELK_DEV_NAME) || elk_ifname_valid(d->name));
	CHECK(!(d->flags & ELK_DEV_MTU) || (d->mtu >= ELK_MTU_MIN && d->mtu <= ELK_MTU_MAX));
	if (d->flags & ELK_DEV_PRIVATE_KEY) {
		CHECK(elk_key_public(pub, d->private_key) == 0);
		CHECK(!memcmp(pub, d->public_key, ELK_KEY_LEN));
	}
	CHECK(!d->n_addresses == !d->addresses && !d->n_dns == !d->dns);
	for (size_t i = 0; i < d->n_addresses; i++)
		CHECK(rec_cidr_ok(&d->addresses[i], 0));
	for (size_t i = 0; i < d->n_dns; i++)
		CHECK(rec_cidr_ok(&d->dns[i], 0) &&
		      d->dns[i].len == elk_family_bits(d->dns[i].family));
	for (size_t i = 0; i < d->n_peers; i++) {
		const struct elk_peer *p = &d->peers[i];

		for (size_t j = 0; j < i; j++)
			CHECK(!elk_key_eq(d->peers[j].public_key, p->public_key));
		CHECK(!p->n_allowed_ips == !p->allowed_ips);
		CHECK(!p->n_allowed_ips || (p->flags & ELK_PEER_ALLOWED_IPS));
		for (size_t j = 0; j < p->n_allowed_ips; j++)
			CHECK(rec_cidr_ok(&p->allowed_ips[j], 1));
		CHECK(!(p->flags & ELK_PEER_ENDPOINT) ? !p->endpoint[0]
						      : rec_endpoint_ok(p->endpoint));
	}
}

/* d described as records, applied to an empty device, gives d again. */
static void rec_check_round_trip(const struct elk_device *d)
{
	struct elk_device n = { 0 };
	struct elk_err e = { "" };
	json_t *o;
	int r;

	o = elk_iface_record(d, true);
	CHECK(o != NULL);
	r = elk_device_apply_iface(&n, o, &e);
	json_decref(o);
	for (size_t i = 0; r == 0 && i < d->n_peers; i++) {
		o = elk_peer_record(&d->peers[i]);
		CHECK(o != NULL);
		r = elk_device_apply_peer(&n, o, &e);
		json_decref(o);
		/* the status record must build too */
		o = elk_status_record(d, &d->peers[i], NULL, 0);
		CHECK(o != NULL);
		json_decref(o);
	}
	if (r == 0 && !rec_dev_eq(d, &n))
		r = -EILSEQ;
	elk_device_clear(&n);
	CHECK(r == 0);
}

/* apply one record; on failure the device must not have moved. */
static void rec_apply(struct elk_device *d, const json_t *rec, int peer)
{
	struct elk_device before;
	struct elk_err e = { "" };
	int r, same;

	rec_dev_copy(&before, d);
	r = peer ? elk_device_apply_peer(d, rec, &e) : elk_device_apply_iface(d, rec, &e);
	if (r == 0) {
		elk_device_clear(&before);
		rec_check_dev(d);
		return;
	}
	same = rec_dev_eq(&before, d);
	elk_device_clear(&before);
	CHECK(r == -EINVAL || r == -ENOMEM);
	CHECK(e.msg[0] != 0);
	CHECK(same);
}

/* ---- keyx -------------------------------------------------------------- */

/* el-keyx's records for c are accepted by the model. */
static void rec_keyx_records(const struct elk_keyx_config *c)
{
	struct elk_device d = { 0 };
	struct elk_err e = { "" };
	json_t *o;
	int r;

	for (int dest = 0; dest < 2; dest++) {
		o = elk_keyx_iface(rec_priv, c, dest);
		CHECK(o != NULL);
		r = elk_device_apply_iface(&d, o, &e);
		json_decref(o);
		CHECK(r == 0);
		o = elk_keyx_peer(rec_pub, c, dest, dest ? NULL : c->endpoint[0] ? c->endpoint
										 : "192.0.2.1:51820");
		CHECK(o != NULL);
		r = elk_device_apply_peer(&d, o, &e);
		json_decref(o);
		CHECK(r == 0);
		rec_check_dev(&d);
		elk_device_clear(&d);
	}
}

static void rec_keyx(const json_t *o)
{
	static const uint8_t mac_key[ELK_KEYX_MAC_LEN] = { 1, 2, 3 };
	struct elk_keyx_config c, c2, next;
	struct elk_keyx_transcript t = { .config = &c };
	uint8_t m1[ELK_KEYX_MAC_LEN], m2[ELK_KEYX_MAC_LEN];
	struct elk_err e = { "" };
	json_t *j1, *j2;
	int r, eq;

	r = elk_keyx_config_from_json(o, &c, &e);
	if (r) {
		CHECK(r == -EINVAL && e.msg[0]);
		return;
	}
	CHECK(c.n_dest >= 1 && c.n_dest <= ELK_KEYX_MAX_ADDRS);
	CHECK(c.n_source >= 1 && c.n_source <= ELK_KEYX_MAX_ADDRS);
	CHECK(c.n_dns <= ELK_KEYX_MAX_ADDRS);
	CHECK(c.wg_port >= 1 && c.mtu >= ELK_MTU_MIN && c.mtu <= ELK_MTU_MAX);
	CHECK(!c.endpoint[0] || rec_endpoint_ok(c.endpoint));
	for (size_t i = 0; i < c.n_dest; i++)
		CHECK(rec_cidr_ok(&c.dest_addrs[i], 0));
	for (size_t i = 0; i < c.n_source; i++)
		CHECK(rec_cidr_ok(&c.source_addrs[i], 0));
	for (size_t i = 0; i < c.n_dns; i++)
		CHECK(rec_cidr_ok(&c.dns[i], 0));

	/* What the destination sends is what the source parses: both MACs
	 * must agree. */
	j1 = elk_keyx_config_to_json(&c);
	CHECK(j1 != NULL);
	r = elk_keyx_config_from_json(j1, &c2, &e);
	j2 = r ? NULL : elk_keyx_config_to_json(&c2);
	eq = j2 && json_equal(j1, j2);
	json_decref(j1);
	json_decref(j2);
	CHECK(r == 0);
	CHECK(eq);
	CHECK(elk_keyx_mac(mac_key, 'D', &t, m1) == 0);
	t.config = &c2;
	CHECK(elk_keyx_mac(mac_key, 'D', &t, m2) == 0);
	CHECK(!memcmp(m1, m2, sizeof(m1)));

	rec_keyx_records(&c);
	if (elk_keyx_nth_source(&c, 1, &next) == 0)
		rec_keyx_records(&next);
	if (elk_keyx_nth_source(&c, 70000, &next) == 0)
		rec_keyx_records(&next);
}

/* ---- trust ------------------------------------------------------------- */

static void rec_fact(const json_t *rec)
{
	struct elk_trust_fact f;
	struct elk_err e = { "" };
	int r = elk_trust_fact_from_json(rec, &f, &e);

	if (r) {
		CHECK(r == -EINVAL && e.msg[0]);
		return;
	}
	CHECK(f.attr <= ELK_TATTR_OTHER);
	CHECK(f.ttl <= 65535);
	if (f.attr == ELK_TATTR_ENDPOINT)
		CHECK(rec_endpoint_ok(f.endpoint));
	else
		CHECK(!f.endpoint[0]);
	if (f.attr == ELK_TATTR_ALLOWED_IP)
		CHECK(rec_cidr_ok(&f.allowed, 1));
}

static void rec_policy(const json_t *doc)
{
	struct elk_trust_policy p;
	struct elk_err e = { "" };
	int r = elk_trust_policy_from_json(doc, &p, &e);

	if (r) {
		CHECK(r == -EINVAL || r == -ENOMEM);
		CHECK(e.msg[0] != 0);
		CHECK(p.peers == NULL && p.n_peers == 0);
		return;
	}
	CHECK(p.def < ELK_TRUST_LEVELS);
	CHECK(!p.n_peers || p.peers);
	for (size_t i = 0; i < p.n_peers; i++)
		CHECK(p.peers[i].level < ELK_TRUST_LEVELS);
	elk_trust_policy_clear(&p);
}

/* ---- one record, one stream --------------------------------------------- */

static void rec_record(struct elk_device *d, json_t *rec)
{
	const json_t *cfg = json_object_get(rec, "config");

	rec_apply(d, rec, 0);
	rec_apply(d, rec, 1);
	rec_fact(rec);
	rec_keyx(json_is_object(cfg) ? cfg : rec);
	json_object_del(rec, "type");
	rec_policy(rec);
}

/* The reader's promises over the whole stream, with a small bound so that
 * overlong lines happen. */
static void rec_lines(FILE *f)
{
	struct elk_reader r;
	struct elk_err e = { "" };
	unsigned long last = 0;
	char *line;
	size_t len;
	int n;

	elk_reader_init(&r, f);
	r.max = 64;
	while ((n = elk_read_line(&r, &line, &len, &e)) != 0) {
		CHECK(r.lineno > last);
		last = r.lineno;
		if (n < 0) {
			CHECK(n == -EMSGSIZE);
			continue;
		}
		CHECK(n == 1 && len <= r.max && line[len] == 0);
		CHECK(!memchr(line, '\n', len));
		CHECK(strspn(line, " \t") < len);
	}
	elk_reader_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elk_device d = { 0 };
	struct elk_reader r;
	struct elk_err e = { "" };
	unsigned long last = 0;
	const char *type;
	json_t *rec;
	char *copy;
	FILE *f;
	int n;

	if (!size)
		return 0;
	/* A heap copy of exactly the input, so over-reads are caught. */
	copy = malloc(size);
	if (!copy)
		abort();
	memcpy(copy, data, size);

	f = fmemopen(copy, size, "r");
	if (f) {
		rec_lines(f);
		fclose(f);
	}
	f = fmemopen(copy, size, "r");
	if (f) {
		elk_reader_init(&r, f);
		while ((n = elk_read_record(&r, &rec, &type, &e)) != 0) {
			if (r.lineno <= last) {
				FUZZ_FAIL("line numbers grow");
				break;
			}
			last = r.lineno;
			if (n < 0)
				continue;
			if (!type || !*type)
				FUZZ_FAIL("a record has a type");
			rec_record(&d, rec);
			json_decref(rec);
		}
		elk_reader_free(&r);
		fclose(f);
	}
	rec_check_round_trip(&d);
	elk_device_clear(&d);

	/* The whole input as one policy document, as el-trust loads it. */
	rec = json_loadb(copy, size, JSON_REJECT_DUPLICATES, NULL);
	if (rec) {
		rec_policy(rec);
		json_decref(rec);
	}
	free(copy);
	return 0;
}
