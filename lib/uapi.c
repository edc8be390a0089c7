/* uapi.c - parse "set" and format "get" of the cross-platform WireGuard
 * configuration protocol (wireguard.com/xplatform), onto the device model.
 * Key order in "get" follows wireguard-go, which wg(8) reads. */
#include "uapi.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 20)
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_bool_true(const char *s)
{
	return !strcmp(s, "true");
}

static int add_allowed_ip(struct elk_peer *p, const struct elk_cidr *c)
{
	struct elk_cidr *g = realloc(p->allowed_ips, (p->n_allowed_ips + 1) * sizeof(*g));

	if (!g)
		return -ENOMEM;
	g[p->n_allowed_ips++] = *c;
	p->allowed_ips = g;
	return 0;
}

static int new_peer(struct elk_device *d, const uint8_t key[ELK_KEY_LEN], struct elk_peer **out)
{
	struct elk_peer *g = realloc(d->peers, (d->n_peers + 1) * sizeof(*g));

	if (!g)
		return -ENOMEM;
	d->peers = g;
	*out = &g[d->n_peers++];
	memset(*out, 0, sizeof(**out));
	memcpy((*out)->public_key, key, ELK_KEY_LEN);
	return 0;
}

/* One key=value line. p is the peer being described, or NULL. */
static int set_line(struct elk_device *d, struct elk_peer **pp, const char *k, const char *v,
		    bool get, struct elk_err *e)
{
	struct elk_peer *p = *pp;
	uint8_t key[ELK_KEY_LEN];
	uint64_t x;

	if (!strcmp(k, "public_key")) {
		if (elk_key_from_hex(key, v))
			return elk_errf(e, "public_key: not 64 hex digits");
		if (new_peer(d, key, pp))
			return elk_errf(e, "out of memory"), -ENOMEM;
		return 0;
	}
	if (!p) {
		if (!strcmp(k, "private_key")) {
			if (elk_key_from_hex(d->private_key, v))
				return elk_errf(e, "private_key: not 64 hex digits");
			d->flags |= ELK_DEV_PRIVATE_KEY;
			if (!elk_key_is_zero(d->private_key))
				elk_key_public(d->public_key, d->private_key);
		} else if (!strcmp(k, "listen_port")) {
			if (!parse_u64(v, 65535, &x))
				return elk_errf(e, "listen_port: \"%.16s\" is not 0 to 65535", v);
			d->listen_port = (uint16_t)x;
			d->flags |= ELK_DEV_LISTEN_PORT;
		} else if (!strcmp(k, "fwmark")) {
			if (!parse_u64(v, UINT32_MAX, &x))
				return elk_errf(e, "fwmark: \"%.16s\" is not a 32-bit number", v);
			d->fwmark = (uint32_t)x;
			d->flags |= ELK_DEV_FWMARK;
		} else if (!strcmp(k, "replace_peers")) {
			if (!parse_bool_true(v))
				return elk_errf(e, "replace_peers: only \"true\" is allowed");
			d->flags |= ELK_DEV_REPLACE_PEERS;
		} else {
			return elk_errf(e, "%.32s: not an interface key", k);
		}
		return 0;
	}
	if (!strcmp(k, "remove")) {
		if (!parse_bool_true(v))
			return elk_errf(e, "remove: only \"true\" is allowed");
		p->flags |= ELK_PEER_REMOVE;
	} else if (!strcmp(k, "update_only")) {
		if (!parse_bool_true(v))
			return elk_errf(e, "update_only: only \"true\" is allowed");
		p->flags |= ELK_PEER_UPDATE_ONLY;
	} else if (!strcmp(k, "preshared_key")) {
		if (elk_key_from_hex(p->preshared_key, v))
			return elk_errf(e, "preshared_key: not 64 hex digits");
		p->flags |= ELK_PEER_PRESHARED_KEY;
	} else if (!strcmp(k, "endpoint")) {
		char host[256];
		uint16_t port;

		if (strlen(v) >= ELK_ENDPOINT_MAX || elk_endpoint_split(v, host, sizeof(host), &port))
			return elk_errf(e, "endpoint: \"%.64s\" is not IP:PORT", v);
		strcpy(p->endpoint, v);
		p->flags |= ELK_PEER_ENDPOINT;
	} else if (!strcmp(k, "persistent_keepalive_interval")) {
		if (!parse_u64(v, 65535, &x))
			return elk_errf(e, "persistent_keepalive_interval: \"%.16s\" is not 0 to 65535", v);
		p->persistent_keepalive_interval = (uint16_t)x;
		p->flags |= ELK_PEER_KEEPALIVE;
	} else if (!strcmp(k, "replace_allowed_ips")) {
		if (!parse_bool_true(v))
			return elk_errf(e, "replace_allowed_ips: only \"true\" is allowed");
		p->flags |= ELK_PEER_REPLACE_ALLOWED_IPS | ELK_PEER_ALLOWED_IPS;
	} else if (!strcmp(k, "allowed_ip")) {
		struct elk_cidr c;

		if (elk_cidr_parse(v, &c) || !strchr(v, '/'))
			return elk_errf(e, "allowed_ip: \"%.64s\" is not a CIDR", v);
		elk_cidr_mask(&c);
		if (add_allowed_ip(p, &c))
			return elk_errf(e, "out of memory"), -ENOMEM;
		p->flags |= ELK_PEER_ALLOWED_IPS;
	} else if (!strcmp(k, "protocol_version")) {
		if (strcmp(v, "1"))
			return elk_errf(e, "protocol_version: only 1 is known");
	} else if (get && !strcmp(k, "last_handshake_time_sec")) {
		if (!parse_u64(v, INT64_MAX, &x))
			return elk_errf(e, "%s: not a number", k);
		p->last_handshake = (int64_t)x;
	} else if (get && !strcmp(k, "last_handshake_time_nsec")) {
		if (!parse_u64(v, 999999999, &x))
			return elk_errf(e, "%s: not a number", k);
	} else if (get && (!strcmp(k, "rx_bytes") || !strcmp(k, "tx_bytes"))) {
		if (!parse_u64(v, UINT64_MAX, &x))
			return elk_errf(e, "%s: not a number", k);
		*(k[0] == 'r' ? &p->rx_bytes : &p->tx_bytes) = x;
	} else {
		return elk_errf(e, "%.32s: not a peer key", k);
	}
	return 0;
}

static int parse_lines(const char *body, size_t len, struct elk_device *change, bool get,
		       struct elk_err *e)
{
	struct elk_peer *p = NULL;
	const char *s = body, *end = body + len;
	unsigned long lineno = 0;
	char line[ELK_UAPI_LINE_MAX];

	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
		char *eq;
		int r;

		lineno++;
		if (n >= sizeof(line)) {
			elk_errf(e, "line %lu: longer than %d bytes", lineno, ELK_UAPI_LINE_MAX - 1);
			return -EINVAL;
		}
		memcpy(line, s, n);
		line[n] = 0;
		s += n + (nl ? 1 : 0);
		eq = strchr(line, '=');
		if (!eq || eq == line) {
			sodium_memzero(line, sizeof(line));
			elk_errf(e, "line %lu: not KEY=VALUE", lineno);
			return -EINVAL;
		}
		*eq = 0;
		if (get && !strcmp(line, "errno"))
			r = strcmp(eq + 1, "0") ? elk_errf(e, "the device answered errno=%.16s", eq + 1) : 0;
		else
			r = set_line(change, &p, line, eq + 1, get, e);
		sodium_memzero(line, sizeof(line));
		if (r) {
			struct elk_err inner = *e;

			elk_errf(e, "line %lu: %s", lineno, inner.msg);
			return r;
		}
	}
	return 0;
}

int elk_uapi_parse_set(const char *body, size_t len, struct elk_device *change,
		       struct elk_err *e)
{
	return parse_lines(body, len, change, false, e);
}

int elk_uapi_parse_get(const char *body, size_t len, struct elk_device *out, struct elk_err *e)
{
	return parse_lines(body, len, out, true, e);
}

int elk_uapi_format_get(FILE *out, const struct elk_device *d, const int64_t *handshake_nsec)
{
	char hex[ELK_KEY_HEX_LEN + 1], cidr[ELK_CIDR_STRLEN];

	if (d->flags & ELK_DEV_PRIVATE_KEY && !elk_key_is_zero(d->private_key)) {
		elk_key_to_hex(hex, d->private_key);
		fprintf(out, "private_key=%s\n", hex);
	}
	fprintf(out, "listen_port=%u\n", d->listen_port);
	if (d->fwmark)
		fprintf(out, "fwmark=%u\n", d->fwmark);
	for (size_t i = 0; i < d->n_peers; i++) {
		const struct elk_peer *p = &d->peers[i];

		elk_key_to_hex(hex, p->public_key);
		fprintf(out, "public_key=%s\n", hex);
		elk_key_to_hex(hex, p->preshared_key);
		fprintf(out, "preshared_key=%s\n", hex);
		fputs("protocol_version=1\n", out);
		if (p->flags & ELK_PEER_ENDPOINT)
			fprintf(out, "endpoint=%s\n", p->endpoint);
		fprintf(out, "last_handshake_time_sec=%lld\n", (long long)p->last_handshake);
		fprintf(out, "last_handshake_time_nsec=%lld\n",
			handshake_nsec ? (long long)handshake_nsec[i] : 0LL);
		fprintf(out, "tx_bytes=%llu\n", (unsigned long long)p->tx_bytes);
		fprintf(out, "rx_bytes=%llu\n", (unsigned long long)p->rx_bytes);
		fprintf(out, "persistent_keepalive_interval=%u\n", p->persistent_keepalive_interval);
		for (size_t j = 0; j < p->n_allowed_ips; j++) {
			elk_cidr_format(&p->allowed_ips[j], cidr);
			fprintf(out, "allowed_ip=%s\n", cidr);
		}
	}
	sodium_memzero(hex, sizeof(hex));
	return ferror(out) ? -EIO : 0;
}

int elk_uapi_format_set(FILE *out, const struct elk_device *c)
{
	char hex[ELK_KEY_HEX_LEN + 1], cidr[ELK_CIDR_STRLEN];

	if (c->flags & ELK_DEV_PRIVATE_KEY) {
		elk_key_to_hex(hex, c->private_key);
		fprintf(out, "private_key=%s\n", hex);
	}
	if (c->flags & ELK_DEV_LISTEN_PORT)
		fprintf(out, "listen_port=%u\n", c->listen_port);
	if (c->flags & ELK_DEV_FWMARK)
		fprintf(out, "fwmark=%u\n", c->fwmark);
	if (c->flags & ELK_DEV_REPLACE_PEERS)
		fputs("replace_peers=true\n", out);
	for (size_t i = 0; i < c->n_peers; i++) {
		const struct elk_peer *p = &c->peers[i];

		elk_key_to_hex(hex, p->public_key);
		fprintf(out, "public_key=%s\n", hex);
		if (p->flags & ELK_PEER_REMOVE) {
			fputs("remove=true\n", out);
			continue;
		}
		if (p->flags & ELK_PEER_UPDATE_ONLY)
			fputs("update_only=true\n", out);
		if (p->flags & ELK_PEER_PRESHARED_KEY) {
			elk_key_to_hex(hex, p->preshared_key);
			fprintf(out, "preshared_key=%s\n", hex);
		}
		if (p->flags & ELK_PEER_ENDPOINT)
			fprintf(out, "endpoint=%s\n", p->endpoint);
		if (p->flags & ELK_PEER_KEEPALIVE)
			fprintf(out, "persistent_keepalive_interval=%u\n",
				p->persistent_keepalive_interval);
		if (p->flags & ELK_PEER_REPLACE_ALLOWED_IPS)
			fputs("replace_allowed_ips=true\n", out);
		for (size_t j = 0; j < p->n_allowed_ips; j++) {
			elk_cidr_format(&p->allowed_ips[j], cidr);
			fprintf(out, "allowed_ip=%s\n", cidr);
		}
	}
	sodium_memzero(hex, sizeof(hex));
	return ferror(out) ? -EIO : 0;
}

int elk_uapi_sock_path(char *out, size_t cap, const char *ifname)
{
	int n = snprintf(out, cap, "%s/%s.sock", ELK_UAPI_DIR, ifname);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int elk_uapi_connect(const char *ifname)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, err;

	if (elk_uapi_sock_path(sun.sun_path, sizeof(sun.sun_path), ifname))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		err = -errno;
		close(fd);
		/* A socket file nobody listens on is a device that is gone. */
		return err == -ECONNREFUSED ? -ENOENT : err;
	}
	return fd;
}

static int write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -EIO;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads one answer, up to and including the empty line. *out is malloc'd. */
static int read_answer(int fd, char **out, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t r;

		if (n >= 2 && buf[n - 1] == '\n' && (buf[n - 2] == '\n')) {
			buf[n] = 0;
			*out = buf;
			*len = n;
			return 0;
		}
		if (n + 1 >= cap) {
			char *g = realloc(buf, cap * 2);

			if (!g || cap > (64u << 20)) {
				free(g ? g : buf);
				return -EMSGSIZE;
			}
			buf = g;
			cap *= 2;
		}
		/* Byte by byte after the first chunk would be slow; one
		 * read at a time is fine since answers end the stream. */
		r = read(fd, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(buf);
			return -EIO;
		}
		n += (size_t)r;
	}
}

static int errno_of(const char *ans, size_t len)
{
	const char *p = ans + len;

	/* The answer ends "errno=N\n\n". */
	while (p > ans && p[-1] == '\n')
		p--;
	while (p > ans && p[-1] != '\n')
		p--;
	if (strncmp(p, "errno=", 6))
		return -EIO;
	return atoi(p + 6);
}

int elk_uapi_set(int fd, const struct elk_device *change, struct elk_err *e)
{
	char *body = NULL, *ans;
	size_t blen = 0, alen;
	FILE *f = open_memstream(&body, &blen);
	int r;

	if (!f)
		return -ENOMEM;
	fputs("set=1\n", f);
	elk_uapi_format_set(f, change);
	fputs("\n", f);
	if (fclose(f))
		return -ENOMEM;
	r = write_all(fd, body, blen);
	sodium_memzero(body, blen);
	free(body);
	if (r)
		return elk_errf(e, "the device closed the connection"), -EIO;
	if ((r = read_answer(fd, &ans, &alen)))
		return elk_errf(e, "no answer from the device"), r;
	r = errno_of(ans, alen);
	free(ans);
	if (r)
		elk_errf(e, "the device refused the change: %s", strerror(-r));
	return r;
}

int elk_uapi_get(int fd, struct elk_device *out, struct elk_err *e)
{
	char *ans;
	size_t alen;
	int r;

	if (write_all(fd, "get=1\n\n", 7))
		return elk_errf(e, "the device closed the connection"), -EIO;
	if ((r = read_answer(fd, &ans, &alen)))
		return elk_errf(e, "no answer from the device"), r;
	r = elk_uapi_parse_get(ans, alen - 1, out, e);
	sodium_memzero(ans, alen);
	free(ans);
	return r;
}
