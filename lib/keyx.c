/* keyx.c - configuration, MACs and records of edgelink's key exchange (the
 * protocol is described in keyx.h). */
#include "keyx.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static const char mac_context[] = "edgelink keyx v1 mac key";
static const char transcript_label[] = "edgelink keyx v1";

json_t *elk_keyx_config_to_json(const struct elk_keyx_config *c)
{
	json_t *o = json_object();

	json_object_set_new(o, "dest_addresses", elk_cidr_array_json(c->dest_addrs, c->n_dest, false));
	json_object_set_new(o, "source_addresses", elk_cidr_array_json(c->source_addrs, c->n_source, false));
	json_object_set_new(o, "listen_port", json_integer(c->wg_port));
	if (c->endpoint[0])
		json_object_set_new(o, "endpoint", json_string(c->endpoint));
	json_object_set_new(o, "persistent_keepalive_interval", json_integer(c->keepalive));
	json_object_set_new(o, "mtu", json_integer(c->mtu));
	json_object_set_new(o, "dns", elk_cidr_array_json(c->dns, c->n_dns, true));
	return o;
}

static int cidrs_from(const json_t *o, const char *field, bool need_prefix,
		      struct elk_cidr *out, size_t *n, struct elk_err *e)
{
	const json_t *arr;
	json_t *v;
	size_t i;
	int r = elk_field_strings(o, field, &arr, e);

	*n = 0;
	if (r <= 0)
		return r < 0 ? r : elk_errf(e, "%s: missing", field);
	if (json_array_size(arr) > ELK_KEYX_MAX_ADDRS)
		return elk_errf(e, "%s: more than %d addresses", field, ELK_KEYX_MAX_ADDRS);
	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v);

		if (elk_cidr_parse(s, &out[i]) || (need_prefix && !strchr(s, '/')))
			return elk_errf(e, "%s[%zu]: \"%.64s\" is not %s", field, i, s,
					need_prefix ? "a CIDR" : "an IP address");
	}
	*n = json_array_size(arr);
	return 0;
}

int elk_keyx_config_from_json(const json_t *o, struct elk_keyx_config *c, struct elk_err *e)
{
	long long x;
	const char *s;
	int r;

	memset(c, 0, sizeof(*c));
	if (!json_is_object(o))
		return elk_errf(e, "config: not an object");
	if ((r = cidrs_from(o, "dest_addresses", true, c->dest_addrs, &c->n_dest, e)) ||
	    (r = cidrs_from(o, "source_addresses", true, c->source_addrs, &c->n_source, e)) ||
	    (r = cidrs_from(o, "dns", false, c->dns, &c->n_dns, e)))
		return r;
	if ((r = elk_field_int(o, "listen_port", 1, 65535, &x, e)) <= 0)
		return r < 0 ? r : elk_errf(e, "listen_port: missing");
	c->wg_port = (uint16_t)x;
	if ((r = elk_field_int(o, "persistent_keepalive_interval", 0, 65535, &x, e)) <= 0)
		return r < 0 ? r : elk_errf(e, "persistent_keepalive_interval: missing");
	c->keepalive = (uint16_t)x;
	if ((r = elk_field_int(o, "mtu", ELK_MTU_MIN, ELK_MTU_MAX, &x, e)) <= 0)
		return r < 0 ? r : elk_errf(e, "mtu: missing");
	c->mtu = (uint32_t)x;
	if ((r = elk_field_string(o, "endpoint", &s, e)) < 0)
		return r;
	if (r) {
		char host[256];
		uint16_t port;

		if (strlen(s) >= sizeof(c->endpoint) || elk_endpoint_split(s, host, sizeof(host), &port))
			return elk_errf(e, "endpoint: \"%.64s\" is not HOST:PORT", s);
		strcpy(c->endpoint, s);
	}
	if (!c->n_dest || !c->n_source)
		return elk_errf(e, "config: no addresses");
	return 0;
}

int elk_keyx_token_key(const char *token, uint8_t key[ELK_KEYX_MAC_LEN], struct elk_err *e)
{
	uint8_t raw[ELK_KEY_LEN];

	if (elk_key_from_base64(raw, token))
		return elk_errf(e, "token: not a 32-byte key in base64 (make one with "
				"'el-keygen psk --raw')");
	crypto_generichash(key, ELK_KEYX_MAC_LEN, (const uint8_t *)mac_context,
			   sizeof(mac_context) - 1, raw, sizeof(raw));
	sodium_memzero(raw, sizeof(raw));
	return 0;
}

int elk_keyx_mac(const uint8_t key[ELK_KEYX_MAC_LEN], char role,
		 const struct elk_keyx_transcript *t, uint8_t out[ELK_KEYX_MAC_LEN])
{
	crypto_generichash_state st;
	json_t *cj = elk_keyx_config_to_json(t->config);
	/* Canonical: sorted keys, no spaces; both sides build it from the
	 * parsed config, so the bytes agree whatever the wire spelling. */
	char *canon = json_dumps(cj, JSON_COMPACT | JSON_SORT_KEYS);
	uint8_t r = (uint8_t)role;

	json_decref(cj);
	if (!canon)
		return -ENOMEM;
	crypto_generichash_init(&st, key, ELK_KEYX_MAC_LEN, ELK_KEYX_MAC_LEN);
	crypto_generichash_update(&st, (const uint8_t *)transcript_label, sizeof(transcript_label));
	crypto_generichash_update(&st, &r, 1);
	crypto_generichash_update(&st, t->nonce_s, sizeof(t->nonce_s));
	crypto_generichash_update(&st, t->pub_s, sizeof(t->pub_s));
	crypto_generichash_update(&st, t->nonce_d, sizeof(t->nonce_d));
	crypto_generichash_update(&st, t->pub_d, sizeof(t->pub_d));
	crypto_generichash_update(&st, (const uint8_t *)canon, strlen(canon) + 1);
	crypto_generichash_final(&st, out, ELK_KEYX_MAC_LEN);
	free(canon);
	return 0;
}

/* Adds n to the host part of c (big-endian arithmetic on the bytes). */
static int add_host(struct elk_cidr *c, unsigned n)
{
	unsigned bytes = elk_family_bits(c->family) / 8, carry = n;
	struct elk_cidr net = *c, after;

	for (int i = (int)bytes - 1; i >= 0 && carry; i--) {
		unsigned v = c->addr[i] + (carry & 0xff);

		c->addr[i] = (uint8_t)v;
		carry = (carry >> 8) + (v >> 8);
	}
	after = *c;
	elk_cidr_mask(&net);
	elk_cidr_mask(&after);
	if (carry || memcmp(net.addr, after.addr, 16))
		return -ERANGE;
	return 0;
}

int elk_keyx_nth_source(const struct elk_keyx_config *base, unsigned n, struct elk_keyx_config *out)
{
	*out = *base;
	for (size_t i = 0; i < out->n_source; i++) {
		if (add_host(&out->source_addrs[i], n))
			return -ERANGE;
		for (size_t j = 0; j < out->n_dest; j++) {
			if (out->dest_addrs[j].family == out->source_addrs[i].family &&
			    !memcmp(out->dest_addrs[j].addr, out->source_addrs[i].addr, 16))
				return -ERANGE; /* would take the destination's own */
		}
	}
	return 0;
}

void elk_keyx_fingerprint(const uint8_t pub[ELK_KEY_LEN], char out[20])
{
	uint8_t h[16];

	crypto_generichash(h, sizeof(h), pub, ELK_KEY_LEN, NULL, 0);
	snprintf(out, 20, "%02x%02x:%02x%02x:%02x%02x:%02x%02x", h[0], h[1], h[2], h[3], h[4], h[5],
		 h[6], h[7]);
}

json_t *elk_keyx_iface(const uint8_t priv[ELK_KEY_LEN], const struct elk_keyx_config *c, bool dest)
{
	json_t *o = elk_record_new("iface");

	elk_set_key(o, "private_key", priv);
	json_object_set_new(o, "listen_port", json_integer(c->wg_port));
	json_object_set_new(o, "addresses", dest ? elk_cidr_array_json(c->dest_addrs, c->n_dest, false)
						 : elk_cidr_array_json(c->source_addrs, c->n_source, false));
	json_object_set_new(o, "mtu", json_integer(c->mtu));
	if (c->n_dns)
		json_object_set_new(o, "dns", elk_cidr_array_json(c->dns, c->n_dns, true));
	return o;
}

json_t *elk_keyx_peer(const uint8_t pub[ELK_KEY_LEN], const struct elk_keyx_config *c, bool dest,
		      const char *endpoint)
{
	json_t *o = elk_record_new("peer"), *ips = json_array();
	const struct elk_cidr *a = dest ? c->source_addrs : c->dest_addrs;
	size_t n = dest ? c->n_source : c->n_dest;
	char buf[ELK_CIDR_STRLEN];

	elk_set_key(o, "public_key", pub);
	if (endpoint && *endpoint)
		json_object_set_new(o, "endpoint", json_string(endpoint));
	/* The other side's own addresses, as host routes: everything else in
	 * the subnet may belong to other sources. */
	for (size_t i = 0; i < n; i++) {
		struct elk_cidr h = a[i];

		h.len = (uint8_t)elk_family_bits(h.family);
		elk_cidr_format(&h, buf);
		json_array_append_new(ips, json_string(buf));
	}
	json_object_set_new(o, "allowed_ips", ips);
	json_object_set_new(o, "persistent_keepalive_interval", json_integer(c->keepalive));
	return o;
}
