/* Key exchange: the MAC binds every part of the transcript, config JSON
 * round trips, and source addresses count up inside their network. */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>

#include "keyx.h"
#include "t.h"

static struct elk_keyx_config base(void)
{
	struct elk_keyx_config c = { .wg_port = 51820, .keepalive = 25, .mtu = 1420 };

	elk_cidr_parse("10.0.0.1/24", &c.dest_addrs[0]);
	elk_cidr_parse("fd00::1/64", &c.dest_addrs[1]);
	c.n_dest = 2;
	elk_cidr_parse("10.0.0.2/24", &c.source_addrs[0]);
	elk_cidr_parse("fd00::2/64", &c.source_addrs[1]);
	c.n_source = 2;
	return c;
}

static void macs(void)
{
	struct elk_keyx_config c = base(), c2 = base();
	struct elk_keyx_transcript t = { .config = &c }, u;
	uint8_t k[32], k2[32], m[32], m2[32];
	struct elk_err e;
	char tok[ELK_KEY_B64_LEN + 1];
	uint8_t raw[32];

	randombytes_buf(raw, sizeof(raw));
	elk_key_to_base64(tok, raw);
	T_EQ_INT(elk_keyx_token_key(tok, k, &e), 0, "token");
	T_EQ_INT(elk_keyx_token_key("short", k2, &e), -EINVAL, "weak token refused");
	randombytes_buf(t.nonce_s, 32);
	randombytes_buf(t.nonce_d, 32);
	randombytes_buf(t.pub_s, 32);
	randombytes_buf(t.pub_d, 32);
	elk_keyx_mac(k, 'D', &t, m);
	elk_keyx_mac(k, 'D', &t, m2);
	T_EQ_MEM(m, m2, 32, "deterministic");
	elk_keyx_mac(k, 'S', &t, m2);
	T_CHECK(memcmp(m, m2, 32), "roles differ");
	/* every byte of every transcript part matters */
	for (int part = 0; part < 4; part++) {
		for (int i = 0; i < 32; i++) {
			u = t;
			uint8_t *p = part == 0 ? u.nonce_s : part == 1 ? u.pub_s : part == 2 ? u.nonce_d : u.pub_d;

			p[i] ^= 1;
			elk_keyx_mac(k, 'D', &u, m2);
			T_CHECK(memcmp(m, m2, 32), "part %d byte %d changes the MAC", part, i);
		}
	}
	u = t;
	c2.source_addrs[0].addr[3] = 99;
	u.config = &c2;
	elk_keyx_mac(k, 'D', &u, m2);
	T_CHECK(memcmp(m, m2, 32), "a changed config changes the MAC");
	randombytes_buf(raw, sizeof(raw));
	elk_key_to_base64(tok, raw);
	elk_keyx_token_key(tok, k2, &e);
	elk_keyx_mac(k2, 'D', &t, m2);
	T_CHECK(memcmp(m, m2, 32), "another token, another MAC");
}

static void config_json(void)
{
	struct elk_keyx_config c = base(), back;
	struct elk_err e;
	json_t *j;
	char *a, *b;

	strcpy(c.endpoint, "[2001:db8::1]:51820");
	elk_cidr_parse("10.0.0.53", &c.dns[0]);
	c.n_dns = 1;
	j = elk_keyx_config_to_json(&c);
	T_EQ_INT(elk_keyx_config_from_json(j, &back, &e), 0, "parse back");
	a = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	j = elk_keyx_config_to_json(&back);
	b = json_dumps(j, JSON_COMPACT);
	T_EQ_STR(a, b, "round trip");
	json_object_set_new(j, "mtu", json_integer(10));
	T_EQ_INT(elk_keyx_config_from_json(j, &back, &e), -EINVAL, "bad mtu");
	T_CHECK(strstr(e.msg, "mtu") != NULL, "names mtu: %s", e.msg);
	json_object_set_new(j, "mtu", json_integer(1420));
	json_object_set_new(j, "source_addresses", json_pack("[s]", "10.0.0.300/24"));
	T_EQ_INT(elk_keyx_config_from_json(j, &back, &e), -EINVAL, "bad address");
	json_decref(j);
	free(a);
	free(b);
}

static void nth(void)
{
	struct elk_keyx_config c = base(), out;
	char buf[ELK_CIDR_STRLEN];

	T_EQ_INT(elk_keyx_nth_source(&c, 0, &out), 0, "first");
	elk_cidr_format(&out.source_addrs[0], buf);
	T_EQ_STR(buf, "10.0.0.2/24", "first v4");
	T_EQ_INT(elk_keyx_nth_source(&c, 5, &out), 0, "sixth");
	elk_cidr_format(&out.source_addrs[0], buf);
	T_EQ_STR(buf, "10.0.0.7/24", "sixth v4");
	elk_cidr_format(&out.source_addrs[1], buf);
	T_EQ_STR(buf, "fd00::7/64", "sixth v6");
	T_EQ_INT(elk_keyx_nth_source(&c, 253, &out), 0, "last of /24");
	T_EQ_INT(elk_keyx_nth_source(&c, 254, &out), -ERANGE, "out of the /24");
	/* the destination's own address is never handed out */
	elk_cidr_parse("10.0.0.5/24", &c.dest_addrs[0]);
	T_EQ_INT(elk_keyx_nth_source(&c, 3, &out), -ERANGE, "would take the destination's");
}

int main(void)
{
	if (sodium_init() < 0)
		return 111;
	macs();
	config_json();
	nth();
	return T_DONE();
}
