/* UAPI text: the exact get answer wireguard-go gives (sampled from Debian's
 * wireguard-go 0.0.20220316 talking to wg), set parsing, and errors. */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>

#include "t.h"
#include "uapi.h"

/* From a real wireguard-go session (keys thrown away after the run). */
static const char sample[] =
	"private_key=6002177a2f857f0304e56f171352c86ebcfec363eb824d954001c702f3c2cf53\n"
	"listen_port=51820\n"
	"public_key=9f39a5acb55bd46b2fc22c00e0204341db4bef362c8cbe46ed5bd7393bc22574\n"
	"preshared_key=0000000000000000000000000000000000000000000000000000000000000000\n"
	"protocol_version=1\n"
	"endpoint=198.18.0.2:51820\n"
	"last_handshake_time_sec=1795305123\n"
	"last_handshake_time_nsec=999283466\n"
	"tx_bytes=276\n"
	"rx_bytes=220\n"
	"persistent_keepalive_interval=0\n"
	"allowed_ip=10.0.0.2/32\n"
	"errno=0\n";

static void get_round_trip(void)
{
	struct elk_device d = { 0 };
	struct elk_err e;
	char *out = NULL;
	size_t len = 0;
	FILE *f;
	int64_t nsec[1] = { 999283466 };
	char b64[ELK_KEY_B64_LEN + 1];

	T_EQ_INT(elk_uapi_parse_get(sample, strlen(sample), &d, &e), 0, "parse get");
	T_EQ_INT(d.n_peers, 1, "one peer");
	T_EQ_INT(d.listen_port, 51820, "port");
	elk_key_to_base64(b64, d.private_key);
	T_EQ_STR(b64, "YAIXei+FfwME5W8XE1LIbrz+w2Prgk2VQAHHAvPCz1M=", "hex key as wg shows it");
	T_EQ_INT(d.peers[0].last_handshake, 1795305123, "handshake");
	T_EQ_INT(d.peers[0].tx_bytes, 276, "tx");
	T_EQ_INT(d.peers[0].rx_bytes, 220, "rx");
	T_EQ_STR(d.peers[0].endpoint, "198.18.0.2:51820", "endpoint");
	f = open_memstream(&out, &len);
	T_EQ_INT(elk_uapi_format_get(f, &d, nsec), 0, "format");
	fputs("errno=0\n", f);
	fclose(f);
	T_EQ_STR(out, sample, "formats exactly what wireguard-go sends");
	free(out);
	elk_device_clear(&d);
}

static void set(void)
{
	const char body[] =
		"private_key=6002177a2f857f0304e56f171352c86ebcfec363eb824d954001c702f3c2cf53\n"
		"listen_port=51821\n"
		"replace_peers=true\n"
		"public_key=9f39a5acb55bd46b2fc22c00e0204341db4bef362c8cbe46ed5bd7393bc22574\n"
		"endpoint=[2001:db8::1]:51820\n"
		"replace_allowed_ips=true\n"
		"allowed_ip=10.0.0.2/32\n"
		"allowed_ip=fd00::1:2/64\n"
		"persistent_keepalive_interval=25\n"
		"public_key=de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f\n"
		"remove=true";
	struct elk_device d = { 0 };
	struct elk_err e;
	char cidr[ELK_CIDR_STRLEN];

	T_EQ_INT(elk_uapi_parse_set(body, strlen(body), &d, &e), 0, "parse set");
	T_CHECK(d.flags & ELK_DEV_PRIVATE_KEY && d.flags & ELK_DEV_LISTEN_PORT &&
			d.flags & ELK_DEV_REPLACE_PEERS, "device flags");
	T_EQ_INT(d.listen_port, 51821, "port");
	T_EQ_INT(d.n_peers, 2, "two peers");
	T_CHECK(d.peers[0].flags & ELK_PEER_REPLACE_ALLOWED_IPS, "replace allowed ips");
	T_EQ_INT(d.peers[0].n_allowed_ips, 2, "allowed ips");
	elk_cidr_format(&d.peers[0].allowed_ips[1], cidr);
	T_EQ_STR(cidr, "fd00::/64", "host bits cleared");
	T_EQ_INT(d.peers[0].persistent_keepalive_interval, 25, "keepalive");
	T_CHECK(d.peers[1].flags & ELK_PEER_REMOVE, "remove");
	elk_device_clear(&d);

	static const struct {
		const char *body, *msg;
	} bad[] = {
		{ "bogus_key=1", "line 1: bogus_key: not an interface key" },
		{ "listen_port=65536", "line 1: listen_port" },
		{ "listen_port=-1", "line 1: listen_port" },
		{ "allowed_ip=10.0.0.1/32", "line 1: allowed_ip: not an interface key" },
		{ "public_key=zz", "line 1: public_key: not 64 hex digits" },
		{ "public_key=9f39a5acb55bd46b2fc22c00e0204341db4bef362c8cbe46ed5bd7393bc22574\n"
		  "allowed_ip=10.0.0.300/32", "line 2: allowed_ip" },
		{ "public_key=9f39a5acb55bd46b2fc22c00e0204341db4bef362c8cbe46ed5bd7393bc22574\n"
		  "endpoint=2001:db8::1:51820", "line 2: endpoint" },
		{ "public_key=9f39a5acb55bd46b2fc22c00e0204341db4bef362c8cbe46ed5bd7393bc22574\n"
		  "protocol_version=2", "line 2: protocol_version" },
		{ "no equals sign", "line 1: not KEY=VALUE" },
		{ "replace_peers=false", "line 1: replace_peers" },
		{ "public_key=9f39a5acb55bd46b2fc22c00e0204341db4bef362c8cbe46ed5bd7393bc22574\n"
		  "tx_bytes=5", "line 2: tx_bytes: not a peer key" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct elk_device x = { 0 };

		T_EQ_INT(elk_uapi_parse_set(bad[i].body, strlen(bad[i].body), &x, &e), -EINVAL,
			 bad[i].body);
		T_CHECK(strncmp(e.msg, bad[i].msg, strlen(bad[i].msg)) == 0, "\"%s\": %s", bad[i].msg,
			e.msg);
		elk_device_clear(&x);
	}
}

int main(void)
{
	if (sodium_init() < 0)
		return 111;
	get_round_trip();
	set();
	return T_DONE();
}
