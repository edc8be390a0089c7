/* Prefixes, endpoints and derived addresses, against tests/vectors/addr.txt. */
#include <arpa/inet.h>
#include <errno.h>
#include <sodium.h>

#include "addr.h"
#include "t.h"

static void vectors(void)
{
	FILE *f = fopen("tests/vectors/addr.txt", "r");
	char line[512], kind[16], a[128], b[128], c[128];
	int n = 0;

	T_CHECK(f != NULL, "open tests/vectors/addr.txt");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char got[ELK_CIDR_STRLEN];
		int fields = sscanf(line, "%15s %127s %127s %127s", kind, a, b, c);

		if (kind[0] == '#' || fields < 3)
			continue;
		n++;
		if (!strcmp(kind, "ll")) {
			uint8_t pub[32];
			struct elk_cidr out = { .family = AF_INET6 };

			T_CHECK(elk_key_from_base64(pub, a) == 0, "key %s", a);
			elk_addr_ll_from_key(pub, out.addr);
			elk_cidr_format_addr(&out, got);
			T_EQ_STR(got, b, a);
		} else if (!strcmp(kind, "fnv")) {
			uint8_t h[16];
			char hex[33];
			const char *in = strcmp(a, "-") ? a : "";

			elk_fnv1a128(in, strlen(in), h);
			sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
			T_EQ_STR(hex, b, a);
		} else if (!strcmp(kind, "name") && fields == 4) {
			struct elk_cidr net, out;

			T_CHECK(elk_cidr_parse(a, &net) == 0, "net %s", a);
			T_CHECK(elk_addr_from_name(&net, b, &out) == 0, "name %s", b);
			elk_cidr_format_addr(&out, got);
			T_EQ_STR(got, c, a);
			T_EQ_INT(out.len, net.len, "prefix kept");
		}
	}
	fclose(f);
	T_CHECK(n >= 9, "read %d vectors", n);
}

static void cidrs(void)
{
	static const struct {
		const char *in, *out; /* out NULL: must be rejected */
	} cases[] = {
		{ "10.0.0.1/24", "10.0.0.1/24" },
		{ "10.0.0.1", "10.0.0.1/32" },
		{ "0.0.0.0/0", "0.0.0.0/0" },
		{ "fe80::1/64", "fe80::1/64" },
		{ "::/0", "::/0" },
		{ "2001:DB8::1", "2001:db8::1/128" },
		{ "10.0.0.300/32", NULL },
		{ "10.0.0.1/33", NULL },
		{ "fe80::1/129", NULL },
		{ "10.0.0.1/", NULL },
		{ "10.0.0.1/+8", NULL },
		{ "10.0.0.1/ 8", NULL },
		{ "10.0.0.1/0x8", NULL },
		{ "/8", NULL },
		{ "", NULL },
		{ "host.example/32", NULL },
		{ "10.0.0/8", NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct elk_cidr c;
		char got[ELK_CIDR_STRLEN];
		int r = elk_cidr_parse(cases[i].in, &c);

		if (!cases[i].out) {
			T_CHECK(r == -EINVAL, "rejects \"%s\"", cases[i].in);
			continue;
		}
		T_CHECK(r == 0, "parses \"%s\"", cases[i].in);
		elk_cidr_format(&c, got);
		T_EQ_STR(got, cases[i].out, cases[i].in);
	}
	struct elk_cidr m;
	char got[ELK_CIDR_STRLEN];

	elk_cidr_parse("10.1.2.3/12", &m);
	elk_cidr_mask(&m);
	elk_cidr_format(&m, got);
	T_EQ_STR(got, "10.0.0.0/12", "mask v4");
	elk_cidr_parse("2001:db8:ffff::1/33", &m);
	elk_cidr_mask(&m);
	elk_cidr_format(&m, got);
	T_EQ_STR(got, "2001:db8:8000::/33", "mask v6");
	elk_cidr_parse("10.0.0.1/32", &m);
	T_CHECK(elk_addr_from_name(&m, "x", &m) == -EINVAL, "no host bits");
}

static void endpoints(void)
{
	static const struct {
		const char *in, *host;
		int port; /* 0: rejected */
	} cases[] = {
		{ "192.0.2.1:51820", "192.0.2.1", 51820 },
		{ "[2001:db8::1]:51820", "2001:db8::1", 51820 },
		{ "vpn.example.org:1", "vpn.example.org", 1 },
		{ "192.0.2.1", NULL, 0 },
		{ "192.0.2.1:0", NULL, 0 },
		{ "192.0.2.1:65536", NULL, 0 },
		{ "192.0.2.1:-1", NULL, 0 },
		{ "2001:db8::1:51820", NULL, 0 },
		{ "[2001:db8::1]51820", NULL, 0 },
		{ ":51820", NULL, 0 },
		{ "a b:1", NULL, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char host[256];
		uint16_t port;
		int r = elk_endpoint_split(cases[i].in, host, sizeof(host), &port);

		if (!cases[i].port) {
			T_CHECK(r == -EINVAL, "rejects endpoint \"%s\"", cases[i].in);
			continue;
		}
		T_CHECK(r == 0, "parses endpoint \"%s\"", cases[i].in);
		T_EQ_STR(host, cases[i].host, cases[i].in);
		T_EQ_INT(port, cases[i].port, cases[i].in);
	}
}

static void port_zero(void)
{
	char host[64];
	uint16_t port = 9;

	T_CHECK(elk_endpoint_split("192.0.2.1:0", host, sizeof(host), &port) == -EINVAL,
		"port 0 is no endpoint to send to");
	T_CHECK(elk_endpoint_split_any_port("192.0.2.1:0", host, sizeof(host), &port) == 0 &&
			port == 0 && !strcmp(host, "192.0.2.1"), "but a fact may carry it");
	T_CHECK(elk_endpoint_split_any_port("[::1]:65536", host, sizeof(host), &port) == -EINVAL,
		"65536 still is not a port");
}

int main(void)
{
	port_zero();
	vectors();
	cidrs();
	endpoints();
	return T_DONE();
}
