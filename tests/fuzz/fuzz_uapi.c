/* fuzz_uapi.c - libFuzzer harness for lib/uapi.c, the parsers of the
 * cross-platform WireGuard configuration protocol (wireguard.com/xplatform)
 * that el-link's UAPI socket reads from wg(8) and `el-link show` reads back
 * from wireguard-go: elk_uapi_parse_set() and elk_uapi_parse_get().
 *
 * Every input is one body (the lines after "set=1", or an answer to
 * "get=1"), parsed both ways. Beyond "no crash, no sanitizer report" it
 * asserts:
 *   - a failed parse says where: "line N: ..." with N a line of the body;
 *   - what a parse gives is well formed: peers' prefixes are valid for
 *     their family with host bits clear, endpoints split as HOST:PORT, and
 *     allowed IPs only come with the ALLOWED_IPS flag;
 *   - nothing is lost in formatting: a parsed body formats (format_set /
 *     format_get) to text that parses back to the same device (every field
 *     a set carries, every value a get answer carries), and formats again
 *     to the same text.
 * Built and run by tests/fuzz/run.sh; seeds in tests/fuzz/corpus/uapi,
 * which tests/unit/test_fuzz_replay.c replays through this file without
 * libFuzzer.
 */
#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uapi.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	return 0;
}

/* CHECK(c): a promise; see fuzz.h. */
#include "fuzz.h"

/* "line N: " with 1 <= N <= lines. */
static int uapi_err_line_ok(const struct elk_err *e, unsigned long lines)
{
	unsigned long n;
	char *end;

	if (strncmp(e->msg, "line ", 5))
		return 0;
	n = strtoul(e->msg + 5, &end, 10);
	return n >= 1 && n <= lines && !strncmp(end, ": ", 2);
}

static void uapi_check_model(const struct elk_device *d)
{
	for (size_t i = 0; i < d->n_peers; i++) {
		const struct elk_peer *p = &d->peers[i];

		CHECK(p->n_allowed_ips == 0 || (p->flags & ELK_PEER_ALLOWED_IPS));
		CHECK(!p->n_allowed_ips == !p->allowed_ips);
		for (size_t j = 0; j < p->n_allowed_ips; j++) {
			struct elk_cidr c = p->allowed_ips[j];

			CHECK(c.family == AF_INET || c.family == AF_INET6);
			CHECK(c.len <= elk_family_bits(c.family));
			elk_cidr_mask(&c);
			CHECK(!memcmp(&c, &p->allowed_ips[j], sizeof(c)));
		}
		CHECK(memchr(p->endpoint, 0, sizeof(p->endpoint)) != NULL);
		if (p->flags & ELK_PEER_ENDPOINT) {
			char host[256];
			uint16_t port;

			CHECK(elk_endpoint_split(p->endpoint, host, sizeof(host), &port) == 0);
		}
	}
}

static int uapi_aips_eq(const struct elk_peer *p, const struct elk_peer *q)
{
	return p->n_allowed_ips == q->n_allowed_ips &&
	       (!p->n_allowed_ips ||
		!memcmp(p->allowed_ips, q->allowed_ips, p->n_allowed_ips * sizeof(*p->allowed_ips)));
}

/* d2, parsed from what d formatted to, says what d says: everything a set
 * carries (a removed peer is only its key), or every value a get answer
 * carries. */
static int uapi_same(const struct elk_device *d, const struct elk_device *d2, int get)
{
	int pk = (d->flags & ELK_DEV_PRIVATE_KEY) && (!get || !elk_key_is_zero(d->private_key));

	if (!pk != !(d2->flags & ELK_DEV_PRIVATE_KEY) ||
	    (pk && memcmp(d->private_key, d2->private_key, ELK_KEY_LEN)) ||
	    (pk && !elk_key_is_zero(d->private_key) &&
	     memcmp(d->public_key, d2->public_key, ELK_KEY_LEN)) ||
	    d->n_peers != d2->n_peers)
		return 0;
	if (get ? d->listen_port != d2->listen_port || d->fwmark != d2->fwmark
		: d->flags != d2->flags ||
			  ((d->flags & ELK_DEV_LISTEN_PORT) && d->listen_port != d2->listen_port) ||
			  ((d->flags & ELK_DEV_FWMARK) && d->fwmark != d2->fwmark))
		return 0;
	for (size_t i = 0; i < d->n_peers; i++) {
		const struct elk_peer *p = &d->peers[i], *q = &d2->peers[i];

		if (memcmp(p->public_key, q->public_key, ELK_KEY_LEN))
			return 0;
		if (!get && (p->flags & ELK_PEER_REMOVE)) {
			if (q->flags != ELK_PEER_REMOVE)
				return 0;
			continue;
		}
		if ((!get && p->flags != q->flags) ||
		    !(p->flags & ELK_PEER_ENDPOINT) != !(q->flags & ELK_PEER_ENDPOINT) ||
		    memcmp(p->preshared_key, q->preshared_key, ELK_KEY_LEN) ||
		    strcmp(p->endpoint, q->endpoint) ||
		    p->persistent_keepalive_interval != q->persistent_keepalive_interval ||
		    p->last_handshake != q->last_handshake || p->rx_bytes != q->rx_bytes ||
		    p->tx_bytes != q->tx_bytes || !uapi_aips_eq(p, q))
			return 0;
	}
	return 1;
}

/* The text format() gives for d, malloc'd, or NULL. */
static char *uapi_format(const struct elk_device *d, int get, size_t *len)
{
	char *out = NULL;
	FILE *f = open_memstream(&out, len);
	int r;

	if (!f)
		return NULL;
	r = get ? elk_uapi_format_get(f, d, NULL) : elk_uapi_format_set(f, d);
	if (fclose(f) || r) {
		free(out);
		return NULL;
	}
	return out;
}

static void uapi_one(const uint8_t *data, size_t size, int get, unsigned long lines)
{
	struct elk_device d = { 0 }, d2 = { 0 };
	struct elk_err e = { "" };
	char *t1 = NULL, *t2 = NULL;
	size_t n1 = 0, n2 = 0;
	int r, same;

	r = get ? elk_uapi_parse_get((const char *)data, size, &d, &e)
		: elk_uapi_parse_set((const char *)data, size, &d, &e);
	if (r) {
		elk_device_clear(&d);
		CHECK(r == -EINVAL);
		CHECK(uapi_err_line_ok(&e, lines));
		return;
	}
	uapi_check_model(&d);
	t1 = uapi_format(&d, get, &n1);
	if (!t1) {
		elk_device_clear(&d);
		CHECK(!"format");
	}
	r = get ? elk_uapi_parse_get(t1, n1, &d2, &e) : elk_uapi_parse_set(t1, n1, &d2, &e);
	same = r == 0 && uapi_same(&d, &d2, get);
	if (r == 0)
		t2 = uapi_format(&d2, get, &n2);
	elk_device_clear(&d);
	elk_device_clear(&d2);
	if (r || !same || !t2 || n1 != n2 || memcmp(t1, t2, n1)) {
		free(t1);
		free(t2);
		CHECK(r == 0);
		CHECK(same);
		CHECK(!"format(parse(format(x))) == format(x)");
	}
	sodium_memzero(t1, n1);
	sodium_memzero(t2, n2);
	free(t1);
	free(t2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned long lines = 1;

	for (size_t i = 0; i + 1 < size; i++)
		lines += data[i] == '\n';
	uapi_one(data, size, 0, lines);
	uapi_one(data, size, 1, lines);
	return 0;
}
