/* model.c - device/peer model and its conversion to and from records. */
#include "model.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* WireGuard's REJECT_AFTER_TIME: a session older than this carries nothing. */
#define STATE_CONNECTED_MAX_AGE 180

bool elk_ifname_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= ELK_IFNAMSIZ || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c <= ' ' || c == '/' || c == ':' || c >= 0x7f)
			return false;
	}
	return true;
}

/* Parses an array of CIDR strings into a new array. */
static int parse_cidrs(const json_t *rec, const char *field, bool need_prefix,
		       struct elk_cidr **out, size_t *n, struct elk_err *e)
{
	const json_t *arr;
	json_t *v;
	size_t i;
	int r = elk_field_strings(rec, field, &arr, e);

	*out = NULL;
	*n = 0;
	if (r <= 0)
		return r;
	if (json_array_size(arr) == 0)
		return 1;
	*out = calloc(json_array_size(arr), sizeof(**out));
	if (!*out)
		return elk_errf(e, "%s: out of memory", field);
	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v);

		if (elk_cidr_parse(s, &(*out)[i]) || (need_prefix && !strchr(s, '/'))) {
			free(*out);
			*out = NULL;
			return elk_errf(e, "%s[%zu]: \"%.64s\" is not %s", field, i, s,
					need_prefix ? "an address with a prefix length (CIDR)"
						    : "an IP address or CIDR");
		}
	}
	*n = json_array_size(arr);
	return 1;
}

int elk_device_apply_iface(struct elk_device *d, const json_t *rec, struct elk_err *e)
{
	struct elk_device n = { 0 };
	const char *s;
	long long x;
	bool b;
	int r;

	if ((r = elk_field_string(rec, "name", &s, e)) < 0)
		return r;
	if (r) {
		if (!elk_ifname_valid(s))
			return elk_errf(e, "name: \"%.32s\" is not an interface name "
					"(1 to 15 characters, no '/', ':' or spaces)", s);
		n.flags |= ELK_DEV_NAME;
		strcpy(n.name, s);
	}
	if ((r = elk_field_key(rec, "private_key", n.private_key, e)) < 0)
		goto fail;
	if (r) {
		n.flags |= ELK_DEV_PRIVATE_KEY;
		if (elk_key_public(n.public_key, n.private_key)) {
			r = elk_errf(e, "private_key: not a usable Curve25519 key");
			goto fail;
		}
	}
	if ((r = elk_field_int(rec, "listen_port", 0, 65535, &x, e)) < 0)
		goto fail;
	if (r) {
		n.flags |= ELK_DEV_LISTEN_PORT;
		n.listen_port = (uint16_t)x;
	}
	if ((r = elk_field_int(rec, "fwmark", 0, UINT32_MAX, &x, e)) < 0)
		goto fail;
	if (r) {
		n.flags |= ELK_DEV_FWMARK;
		n.fwmark = (uint32_t)x;
	}
	if ((r = elk_field_int(rec, "mtu", ELK_MTU_MIN, ELK_MTU_MAX, &x, e)) < 0)
		goto fail;
	if (r) {
		n.flags |= ELK_DEV_MTU;
		n.mtu = (uint32_t)x;
	}
	if ((r = parse_cidrs(rec, "addresses", true, &n.addresses, &n.n_addresses, e)) < 0)
		goto fail;
	if (r)
		n.flags |= ELK_DEV_ADDRESSES;
	if ((r = parse_cidrs(rec, "dns", false, &n.dns, &n.n_dns, e)) < 0)
		goto fail;
	if (r) {
		n.flags |= ELK_DEV_DNS;
		for (size_t i = 0; i < n.n_dns; i++) {
			if (n.dns[i].len != elk_family_bits(n.dns[i].family)) {
				r = elk_errf(e, "dns[%zu]: an address, not a network", i);
				goto fail;
			}
		}
	}
	if ((r = elk_field_bool(rec, "replace_peers", &b, e)) < 0)
		goto fail;
	if (r && b)
		n.flags |= ELK_DEV_REPLACE_PEERS;

	/* Everything parsed: now commit, field by field. */
	if (n.flags & ELK_DEV_NAME)
		memcpy(d->name, n.name, sizeof(d->name));
	if (n.flags & ELK_DEV_PRIVATE_KEY) {
		memcpy(d->private_key, n.private_key, ELK_KEY_LEN);
		memcpy(d->public_key, n.public_key, ELK_KEY_LEN);
	}
	if (n.flags & ELK_DEV_LISTEN_PORT)
		d->listen_port = n.listen_port;
	if (n.flags & ELK_DEV_FWMARK)
		d->fwmark = n.fwmark;
	if (n.flags & ELK_DEV_MTU)
		d->mtu = n.mtu;
	if (n.flags & ELK_DEV_ADDRESSES) {
		free(d->addresses);
		d->addresses = n.addresses;
		d->n_addresses = n.n_addresses;
		n.addresses = NULL;
	}
	if (n.flags & ELK_DEV_DNS) {
		free(d->dns);
		d->dns = n.dns;
		d->n_dns = n.n_dns;
		n.dns = NULL;
	}
	d->flags |= n.flags;
	sodium_memzero(n.private_key, sizeof(n.private_key));
	return 0;
fail:
	free(n.addresses);
	free(n.dns);
	sodium_memzero(n.private_key, sizeof(n.private_key));
	return r;
}

struct elk_peer *elk_device_find_peer(const struct elk_device *d,
				      const uint8_t key[ELK_KEY_LEN])
{
	for (size_t i = 0; i < d->n_peers; i++) {
		if (elk_key_eq(d->peers[i].public_key, key))
			return &d->peers[i];
	}
	return NULL;
}

int elk_device_apply_peer(struct elk_device *d, const json_t *rec, struct elk_err *e)
{
	struct elk_peer n = { 0 }, *p;
	const char *s;
	long long x;
	bool b;
	int r;

	if ((r = elk_field_key(rec, "public_key", n.public_key, e)) < 0)
		return r;
	if (!r)
		return elk_errf(e, "public_key: missing");
	if ((r = elk_field_key(rec, "preshared_key", n.preshared_key, e)) < 0)
		goto fail;
	if (r)
		n.flags |= ELK_PEER_PRESHARED_KEY;
	if ((r = elk_field_string(rec, "endpoint", &s, e)) < 0)
		goto fail;
	if (r) {
		char host[256];
		uint16_t port;

		if (strlen(s) >= ELK_ENDPOINT_MAX ||
		    elk_endpoint_split(s, host, sizeof(host), &port)) {
			r = elk_errf(e, "endpoint: \"%.64s\" is not HOST:PORT "
				     "(IPv6 as [ADDR]:PORT, port 1 to 65535)", s);
			goto fail;
		}
		n.flags |= ELK_PEER_ENDPOINT;
		strcpy(n.endpoint, s);
	}
	if ((r = elk_field_int(rec, "persistent_keepalive_interval", 0, 65535, &x, e)) < 0)
		goto fail;
	if (r) {
		n.flags |= ELK_PEER_KEEPALIVE;
		n.persistent_keepalive_interval = (uint16_t)x;
	}
	if ((r = parse_cidrs(rec, "allowed_ips", false, &n.allowed_ips, &n.n_allowed_ips, e)) < 0)
		goto fail;
	if (r) {
		n.flags |= ELK_PEER_ALLOWED_IPS;
		for (size_t i = 0; i < n.n_allowed_ips; i++)
			elk_cidr_mask(&n.allowed_ips[i]);
	}
	if ((r = elk_field_bool(rec, "replace_allowed_ips", &b, e)) < 0)
		goto fail;
	if (r && b)
		n.flags |= ELK_PEER_REPLACE_ALLOWED_IPS;
	if ((r = elk_field_bool(rec, "remove", &b, e)) < 0)
		goto fail;
	if (r && b)
		n.flags |= ELK_PEER_REMOVE;

	p = elk_device_find_peer(d, n.public_key);
	if (!p) {
		struct elk_peer *grown = realloc(d->peers, (d->n_peers + 1) * sizeof(*grown));

		if (!grown) {
			r = elk_errf(e, "out of memory");
			goto fail;
		}
		d->peers = grown;
		d->peers[d->n_peers++] = n;
		return 0;
	}
	/* Merge into the peer we already have. */
	if (n.flags & ELK_PEER_ALLOWED_IPS) {
		if (n.flags & ELK_PEER_REPLACE_ALLOWED_IPS) {
			free(p->allowed_ips);
			p->allowed_ips = n.allowed_ips;
			p->n_allowed_ips = n.n_allowed_ips;
		} else if (n.n_allowed_ips) {
			struct elk_cidr *g = realloc(p->allowed_ips, (p->n_allowed_ips + n.n_allowed_ips) *
								      sizeof(*g));
			if (!g) {
				r = elk_errf(e, "out of memory");
				goto fail;
			}
			memcpy(g + p->n_allowed_ips, n.allowed_ips, n.n_allowed_ips * sizeof(*g));
			p->allowed_ips = g;
			p->n_allowed_ips += n.n_allowed_ips;
			free(n.allowed_ips);
		} else {
			free(n.allowed_ips);
		}
		n.allowed_ips = NULL;
	}
	if (n.flags & ELK_PEER_PRESHARED_KEY)
		memcpy(p->preshared_key, n.preshared_key, ELK_KEY_LEN);
	if (n.flags & ELK_PEER_ENDPOINT)
		strcpy(p->endpoint, n.endpoint);
	if (n.flags & ELK_PEER_KEEPALIVE)
		p->persistent_keepalive_interval = n.persistent_keepalive_interval;
	p->flags |= n.flags;
	sodium_memzero(n.preshared_key, sizeof(n.preshared_key));
	return 0;
fail:
	elk_peer_clear(&n);
	return r;
}

json_t *elk_cidr_array_json(const struct elk_cidr *c, size_t n, bool addr_only)
{
	json_t *a = json_array();
	char buf[ELK_CIDR_STRLEN];

	for (size_t i = 0; a && i < n; i++) {
		if (addr_only)
			elk_cidr_format_addr(&c[i], buf);
		else
			elk_cidr_format(&c[i], buf);
		json_array_append_new(a, json_string(buf));
	}
	return a;
}

json_t *elk_iface_record(const struct elk_device *d, bool with_private)
{
	json_t *o = elk_record_new("iface");

	if (!o)
		return NULL;
	if (d->flags & ELK_DEV_NAME)
		json_object_set_new(o, "name", json_string(d->name));
	if ((d->flags & ELK_DEV_PRIVATE_KEY) && with_private)
		elk_set_key(o, "private_key", d->private_key);
	if (d->flags & ELK_DEV_PRIVATE_KEY)
		elk_set_key(o, "public_key", d->public_key);
	if (d->flags & ELK_DEV_LISTEN_PORT)
		json_object_set_new(o, "listen_port", json_integer(d->listen_port));
	if (d->flags & ELK_DEV_FWMARK)
		json_object_set_new(o, "fwmark", json_integer(d->fwmark));
	if (d->flags & ELK_DEV_ADDRESSES)
		json_object_set_new(o, "addresses", elk_cidr_array_json(d->addresses, d->n_addresses, false));
	if (d->flags & ELK_DEV_MTU)
		json_object_set_new(o, "mtu", json_integer(d->mtu));
	if (d->flags & ELK_DEV_DNS)
		json_object_set_new(o, "dns", elk_cidr_array_json(d->dns, d->n_dns, true));
	if (d->flags & ELK_DEV_REPLACE_PEERS)
		json_object_set_new(o, "replace_peers", json_true());
	return o;
}

json_t *elk_peer_record(const struct elk_peer *p)
{
	json_t *o = elk_record_new("peer");

	if (!o)
		return NULL;
	elk_set_key(o, "public_key", p->public_key);
	if (p->flags & ELK_PEER_ENDPOINT)
		json_object_set_new(o, "endpoint", json_string(p->endpoint));
	if (p->flags & ELK_PEER_ALLOWED_IPS)
		json_object_set_new(o, "allowed_ips",
				    elk_cidr_array_json(p->allowed_ips, p->n_allowed_ips, false));
	if (p->flags & ELK_PEER_KEEPALIVE)
		json_object_set_new(o, "persistent_keepalive_interval",
				    json_integer(p->persistent_keepalive_interval));
	if (p->flags & ELK_PEER_PRESHARED_KEY)
		elk_set_key(o, "preshared_key", p->preshared_key);
	if (p->flags & ELK_PEER_REPLACE_ALLOWED_IPS)
		json_object_set_new(o, "replace_allowed_ips", json_true());
	if (p->flags & ELK_PEER_REMOVE)
		json_object_set_new(o, "remove", json_true());
	return o;
}

bool elk_peer_connected(const struct elk_peer *p, int64_t now)
{
	return p->last_handshake > 0 && now - p->last_handshake < STATE_CONNECTED_MAX_AGE;
}

const char *elk_peer_state(const struct elk_peer *p, const struct elk_peer *prev, int64_t now)
{
	if (elk_peer_connected(p, now))
		return "connected";
	if (!(p->flags & ELK_PEER_ENDPOINT) && p->last_handshake == 0)
		return "none";
	if (prev && p->tx_bytes > prev->tx_bytes && p->rx_bytes == prev->rx_bytes)
		return "error";
	return "connecting";
}

json_t *elk_status_record(const struct elk_device *d, const struct elk_peer *p,
			  const struct elk_peer *prev, int64_t now)
{
	json_t *o = elk_record_new("status");

	if (!o)
		return NULL;
	json_object_set_new(o, "iface", json_string(d->name));
	elk_set_key(o, "public_key", p->public_key);
	json_object_set_new(o, "endpoint",
			    (p->flags & ELK_PEER_ENDPOINT) ? json_string(p->endpoint) : json_null());
	json_object_set_new(o, "allowed_ips", elk_cidr_array_json(p->allowed_ips, p->n_allowed_ips, false));
	json_object_set_new(o, "last_handshake", json_integer(p->last_handshake));
	json_object_set_new(o, "rx_bytes", json_integer((json_int_t)p->rx_bytes));
	json_object_set_new(o, "tx_bytes", json_integer((json_int_t)p->tx_bytes));
	json_object_set_new(o, "persistent_keepalive_interval",
			    json_integer(p->persistent_keepalive_interval));
	json_object_set_new(o, "state", json_string(elk_peer_state(p, prev, now)));
	return o;
}

void elk_peer_clear(struct elk_peer *p)
{
	free(p->allowed_ips);
	sodium_memzero(p, sizeof(*p));
}

void elk_device_clear(struct elk_device *d)
{
	for (size_t i = 0; i < d->n_peers; i++)
		elk_peer_clear(&d->peers[i]);
	free(d->peers);
	free(d->addresses);
	free(d->dns);
	sodium_memzero(d, sizeof(*d));
}
