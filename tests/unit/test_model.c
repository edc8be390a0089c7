/* The device/peer model: records in, records out, merges, and a bad record
 * that changes nothing. */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>

#include "model.h"
#include "t.h"

#define PRIV "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo="
#define PUB "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="
#define PEER "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08="

static json_t *J(const char *s)
{
	json_error_t je;
	json_t *o = json_loads(s, 0, &je);

	if (!o)
		fprintf(stderr, "bad test JSON: %s\n", je.text);
	return o;
}

static char *dump(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);

	json_decref(o);
	return s;
}

static int apply_iface(struct elk_device *d, const char *s, struct elk_err *e)
{
	json_t *o = J(s);
	int r = elk_device_apply_iface(d, o, e);

	json_decref(o);
	return r;
}

static int apply_peer(struct elk_device *d, const char *s, struct elk_err *e)
{
	json_t *o = J(s);
	int r = elk_device_apply_peer(d, o, e);

	json_decref(o);
	return r;
}

static void iface(void)
{
	struct elk_device d = { 0 };
	struct elk_err e;
	char *s;

	T_EQ_INT(apply_iface(&d, "{\"type\":\"iface\",\"name\":\"wg0\",\"private_key\":\"" PRIV "\","
				 "\"listen_port\":51820,\"addresses\":[\"10.0.0.1/24\",\"fd00::1/64\"],"
				 "\"mtu\":1420,\"dns\":[\"10.0.0.53\"],\"future_field\":{\"x\":1}}", &e),
		 0, "iface applies");
	s = dump(elk_iface_record(&d, false));
	T_EQ_STR(s, "{\"type\":\"iface\",\"name\":\"wg0\",\"public_key\":\"" PUB "\","
		    "\"listen_port\":51820,\"addresses\":[\"10.0.0.1/24\",\"fd00::1/64\"],"
		    "\"mtu\":1420,\"dns\":[\"10.0.0.53\"]}", "iface record without private key");
	free(s);
	s = dump(elk_iface_record(&d, true));
	T_CHECK(strstr(s, "\"private_key\":\"" PRIV "\"") != NULL, "with private key: %s", s);
	free(s);

	static const struct {
		const char *rec, *field;
	} bad[] = {
		{ "{\"listen_port\":70000}", "listen_port" },
		{ "{\"listen_port\":\"51820\"}", "listen_port" },
		{ "{\"private_key\":\"abc\"}", "private_key" },
		{ "{\"addresses\":[\"10.0.0.300/24\"]}", "addresses[0]" },
		{ "{\"addresses\":[\"10.0.0.1\"]}", "addresses[0]" },
		{ "{\"addresses\":\"10.0.0.1/24\"}", "addresses" },
		{ "{\"mtu\":100}", "mtu" },
		{ "{\"dns\":[\"10.0.0.0/8\"]}", "dns[0]" },
		{ "{\"name\":\"much-too-long-name\"}", "name" },
		{ "{\"name\":\"a/b\"}", "name" },
		{ "{\"replace_peers\":1}", "replace_peers" },
		{ "{\"mtu\":1300,\"fwmark\":-1}", "fwmark" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		char *before = dump(elk_iface_record(&d, true)), *after;

		T_EQ_INT(apply_iface(&d, bad[i].rec, &e), -EINVAL, bad[i].rec);
		T_CHECK(strncmp(e.msg, bad[i].field, strlen(bad[i].field)) == 0 &&
				e.msg[strlen(bad[i].field)] == ':',
			"error names %s: %s", bad[i].field, e.msg);
		after = dump(elk_iface_record(&d, true));
		T_EQ_STR(after, before, "a bad record changes nothing");
		free(before);
		free(after);
	}
	elk_device_clear(&d);
	T_CHECK(d.n_peers == 0 && d.flags == 0 && elk_key_is_zero(d.private_key), "clear wipes");
}

static void peers(void)
{
	struct elk_device d = { 0 };
	struct elk_err e;
	char *s;

	T_EQ_INT(apply_peer(&d, "{\"type\":\"peer\",\"public_key\":\"" PEER "\","
				"\"endpoint\":\"[2001:db8::1]:51820\",\"allowed_ips\":[\"10.0.0.2/32\"],"
				"\"persistent_keepalive_interval\":25}", &e), 0, "peer");
	T_EQ_INT(apply_peer(&d, "{\"type\":\"peer\",\"public_key\":\"" PEER "\","
				"\"allowed_ips\":[\"10.9.8.7/8\"]}", &e), 0, "merge");
	T_EQ_INT(d.n_peers, 1, "same key merges");
	s = dump(elk_peer_record(&d.peers[0]));
	T_EQ_STR(s, "{\"type\":\"peer\",\"public_key\":\"" PEER "\",\"endpoint\":\"[2001:db8::1]:51820\","
		    "\"allowed_ips\":[\"10.0.0.2/32\",\"10.0.0.0/8\"],\"persistent_keepalive_interval\":25}",
		 "merged, host bits of allowed IPs cleared");
	free(s);
	T_EQ_INT(apply_peer(&d, "{\"type\":\"peer\",\"public_key\":\"" PEER "\","
				"\"allowed_ips\":[\"::/0\"],\"replace_allowed_ips\":true}", &e), 0, "replace");
	T_EQ_INT(d.peers[0].n_allowed_ips, 1, "replaced");
	T_EQ_INT(apply_peer(&d, "{\"type\":\"peer\",\"public_key\":\"" PUB "\"}", &e), 0, "second");
	T_EQ_INT(d.n_peers, 2, "two peers");
	T_CHECK(elk_device_find_peer(&d, d.peers[1].public_key) == &d.peers[1], "find");

	static const struct {
		const char *rec, *field;
	} bad[] = {
		{ "{\"type\":\"peer\"}", "public_key" },
		{ "{\"public_key\":\"" PEER "\",\"endpoint\":\"2001:db8::1:5\"}", "endpoint" },
		{ "{\"public_key\":\"" PEER "\",\"endpoint\":\"1.2.3.4:0\"}", "endpoint" },
		{ "{\"public_key\":\"" PEER "\",\"allowed_ips\":[\"10.0.0.300/32\"]}", "allowed_ips[0]" },
		{ "{\"public_key\":\"" PEER "\",\"persistent_keepalive_interval\":65536}",
		  "persistent_keepalive_interval" },
		{ "{\"public_key\":\"" PEER "\",\"preshared_key\":\"" PEER "x\"}", "preshared_key" },
		{ "{\"public_key\":\"" PEER "\",\"remove\":\"yes\"}", "remove" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		char *before = dump(elk_peer_record(&d.peers[0])), *after;

		T_EQ_INT(apply_peer(&d, bad[i].rec, &e), -EINVAL, bad[i].rec);
		T_CHECK(strncmp(e.msg, bad[i].field, strlen(bad[i].field)) == 0,
			"error names %s: %s", bad[i].field, e.msg);
		after = dump(elk_peer_record(&d.peers[0]));
		T_EQ_STR(after, before, "a bad peer record changes nothing");
		T_EQ_INT(d.n_peers, 2, "no peer added");
		free(before);
		free(after);
	}

	/* status and state */
	struct elk_peer *p = &d.peers[0];

	/* The state machine, as a table: endpoint?, handshake, counters now and
	 * in an earlier sample (prev_tx < 0: no earlier sample). */
	static const struct {
		bool endpoint;
		int64_t handshake;
		long long tx, rx, prev_tx, prev_rx;
		const char *want;
	} st[] = {
		{ false, 0, 0, 0, -1, 0, "none" },
		{ true, 0, 0, 0, -1, 0, "connecting" },
		{ true, 900, 0, 0, -1, 0, "connected" },     /* 100 s old */
		{ false, 900, 0, 0, -1, 0, "connected" },    /* roamed to us, no endpoint set */
		{ true, 821, 0, 0, -1, 0, "connected" },     /* 179 s old */
		{ true, 820, 0, 0, -1, 0, "connecting" },    /* 180 s: expired */
		{ false, 820, 0, 0, -1, 0, "connecting" },   /* had a session once */
		{ true, 0, 500, 0, 100, 0, "error" },        /* sending, nothing back */
		{ true, 820, 500, 40, 100, 40, "error" },
		{ true, 0, 500, 60, 100, 40, "connecting" }, /* something came back */
		{ true, 0, 100, 0, 100, 0, "connecting" },   /* idle: nothing sent */
		{ true, 950, 500, 0, 100, 0, "connected" },  /* a fresh handshake wins */
		{ false, 0, 500, 0, 100, 0, "none" },        /* nowhere to send */
	};
	for (size_t i = 0; i < sizeof(st) / sizeof(*st); i++) {
		struct elk_peer cur = { 0 }, prev = { 0 };

		cur.flags = st[i].endpoint ? ELK_PEER_ENDPOINT : 0;
		cur.last_handshake = st[i].handshake;
		cur.tx_bytes = (uint64_t)st[i].tx;
		cur.rx_bytes = (uint64_t)st[i].rx;
		prev = cur;
		prev.tx_bytes = (uint64_t)st[i].prev_tx;
		prev.rx_bytes = (uint64_t)st[i].prev_rx;
		T_EQ_STR(elk_peer_state(&cur, st[i].prev_tx < 0 ? NULL : &prev, 1000), st[i].want,
			 "state table row");
		if (strcmp(elk_peer_state(&cur, st[i].prev_tx < 0 ? NULL : &prev, 1000), st[i].want))
			fprintf(stderr, "  row %zu\n", i);
	}
	p->last_handshake = 900;
	p->rx_bytes = 10;
	p->tx_bytes = 20;
	strcpy(d.name, "wg0");
	s = dump(elk_status_record(&d, p, NULL, 1000));
	T_EQ_STR(s, "{\"type\":\"status\",\"iface\":\"wg0\",\"public_key\":\"" PEER "\","
		    "\"endpoint\":\"[2001:db8::1]:51820\",\"allowed_ips\":[\"::/0\"],\"last_handshake\":900,"
		    "\"rx_bytes\":10,\"tx_bytes\":20,\"persistent_keepalive_interval\":25,"
		    "\"state\":\"connected\"}", "status record");
	free(s);
	elk_device_clear(&d);
}

int main(void)
{
	if (sodium_init() < 0)
		return 111;
	iface();
	peers();
	return T_DONE();
}
