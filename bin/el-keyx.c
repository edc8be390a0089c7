/* el-keyx - agree WireGuard keys and a link's configuration between two
 * hosts, authenticated, and print the records el-link needs. The protocol
 * and its security argument are in lib/keyx.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "file.h"
#include "keyfile.h"
#include "keyx.h"
#include "records.h"

static const char help[] =
"Usage: el-keyx listen [OPTIONS]                 the destination: waits for a source\n"
"       el-keyx connect HOST[:PORT] [OPTIONS]    the source: connects, retries\n"
"\n"
"Each side reads its own key on stdin (a key record or a bare base64 private\n"
"key; a new one is made when stdin is empty or a terminal), swaps public keys\n"
"with the other side, and prints the records 'el-link up' needs: an `iface`\n"
"(own key, addresses, port) and a `peer` (the other side). The destination\n"
"decides addresses, port, keepalive, MTU and DNS; the source follows.\n"
"Progress and the peer's key go to stderr.\n"
"\n"
"  dst$ el-keygen | el-keyx listen --token \"$T\" | el-link up wg0\n"
"  src$ el-keygen | el-keyx connect dst.example --token \"$T\" | el-link up wg0\n"
"  (T from 'el-keygen psk --raw', the same on both sides)\n"
"\n"
"Authentication:\n"
"  --token T            a 32-byte secret in base64 both sides hold; without it\n"
"                       nobody can pair or swap a key (env EL_KEYX_TOKEN);\n"
"                       other users see arguments in ps: prefer --token-file\n"
"  --token-file F       read the token from F (env EL_KEYX_TOKEN_FILE)\n"
"  --peer-key KEY       accept only this peer public key (env EL_KEYX_PEER_KEY);\n"
"                       without a token or a pinned key: trust on first use\n"
"What the destination decides (defaults as EdgeLink's):\n"
"  --dest-address LIST     its own addresses   (10.0.0.1/24; env EL_KEYX_DEST_ADDRESS)\n"
"  --source-address LIST   the source's        (10.0.0.2/24; env EL_KEYX_SOURCE_ADDRESS)\n"
"                          LIST is comma-separated CIDRs, IPv4 and/or IPv6\n"
"  --wg-port N          WireGuard port, both sides (51820; env EL_KEYX_WG_PORT)\n"
"  --keepalive S        persistent keepalive (25; env EL_KEYX_KEEPALIVE)\n"
"  --mtu N              (1420; env EL_KEYX_MTU)\n"
"  --dns LIST           DNS servers for the source (env EL_KEYX_DNS)\n"
"  --endpoint HOST:PORT where the source reaches the destination's WireGuard\n"
"                       (default: the host it connected to; env EL_KEYX_ENDPOINT)\n"
"Exchange:\n"
"  --port N             key exchange TCP port (50777; env EL_KEYX_PORT)\n"
"  --bind ADDR          listen: address to listen on (all; env EL_KEYX_BIND)\n"
"  --retry-interval S   connect: seconds between attempts (15; fractions allowed;\n"
"                       env EL_KEYX_RETRY_INTERVAL)\n"
"  --timeout S          seconds per attempt and per message (3; env EL_KEYX_TIMEOUT)\n"
"  --attempts N         connect: give up after N attempts (0 = never; env EL_KEYX_ATTEMPTS)\n"
"  --keep               listen: go on serving sources, each its own address (env EL_KEYX_KEEP=1)\n"
"  --stdio              speak the exchange on stdin/stdout instead of TCP (for ssh,\n"
"                       socat); then --key gives the key and --out takes the records\n"
"  --key FILE           own key from FILE instead of stdin (env EL_KEYX_KEY)\n"
"  --out FILE           records to FILE (0600, atomic) instead of stdout (env EL_KEYX_OUT)\n"
"  --state FILE         keep the agreed records in FILE (0600, atomic); when it exists,\n"
"                       print them and skip the exchange (env EL_KEYX_STATE)\n"
"  --preset             no exchange: own key plus --peer-key make the records\n"
"  -q, --quiet          no progress on stderr (env EL_KEYX_QUIET=1)\n"
"  -v, --verbose        also every protocol message (env EL_KEYX_VERBOSE=1)\n"
"  -h, --help, --version\n"
"\n"
"Exit: 0 paired; 1 refused (wrong token, a changed key, a pinned key that\n"
"does not match, attempts used up); 100 usage or bad input; 111 system failure.\n"
"See el-keyx(1) and edgelink-records(7).\n";

struct opt {
	const char *flag, *env;
	const char *val;
	bool boolean;
};

enum {
	O_TOKEN, O_TOKEN_FILE, O_PEER_KEY, O_DEST_ADDR, O_SOURCE_ADDR, O_WG_PORT, O_KEEPALIVE,
	O_MTU, O_DNS, O_ENDPOINT, O_PORT, O_BIND, O_RETRY, O_TIMEOUT, O_ATTEMPTS, O_KEEP,
	O_STDIO, O_KEY, O_OUT, O_STATE, O_PRESET, O_QUIET, O_VERBOSE, O_COUNT
};

static struct opt opts[O_COUNT] = {
	[O_TOKEN] = { "--token", "EL_KEYX_TOKEN" },
	[O_TOKEN_FILE] = { "--token-file", "EL_KEYX_TOKEN_FILE" },
	[O_PEER_KEY] = { "--peer-key", "EL_KEYX_PEER_KEY" },
	[O_DEST_ADDR] = { "--dest-address", "EL_KEYX_DEST_ADDRESS" },
	[O_SOURCE_ADDR] = { "--source-address", "EL_KEYX_SOURCE_ADDRESS" },
	[O_WG_PORT] = { "--wg-port", "EL_KEYX_WG_PORT" },
	[O_KEEPALIVE] = { "--keepalive", "EL_KEYX_KEEPALIVE" },
	[O_MTU] = { "--mtu", "EL_KEYX_MTU" },
	[O_DNS] = { "--dns", "EL_KEYX_DNS" },
	[O_ENDPOINT] = { "--endpoint", "EL_KEYX_ENDPOINT" },
	[O_PORT] = { "--port", "EL_KEYX_PORT" },
	[O_BIND] = { "--bind", "EL_KEYX_BIND" },
	[O_RETRY] = { "--retry-interval", "EL_KEYX_RETRY_INTERVAL" },
	[O_TIMEOUT] = { "--timeout", "EL_KEYX_TIMEOUT" },
	[O_ATTEMPTS] = { "--attempts", "EL_KEYX_ATTEMPTS" },
	[O_KEEP] = { "--keep", "EL_KEYX_KEEP", NULL, true },
	[O_STDIO] = { "--stdio", "EL_KEYX_STDIO", NULL, true },
	[O_KEY] = { "--key", "EL_KEYX_KEY" },
	[O_OUT] = { "--out", "EL_KEYX_OUT" },
	[O_STATE] = { "--state", "EL_KEYX_STATE" },
	[O_PRESET] = { "--preset", NULL, NULL, true },
	[O_QUIET] = { "--quiet", "EL_KEYX_QUIET", NULL, true },
	[O_VERBOSE] = { "--verbose", "EL_KEYX_VERBOSE", NULL, true },
};

#define OPT(i) (opts[i].val)
#define ON(i) (opts[i].val != NULL)

static bool dest;
static int timeout_ms = 3000;
static uint8_t own_priv[ELK_KEY_LEN], own_pub[ELK_KEY_LEN];
static uint8_t mac_key[ELK_KEYX_MAC_LEN];
static bool have_token, have_pin;
static uint8_t pinned[ELK_KEY_LEN];
static char *records; /* what we print, also for --out and --state */
static size_t records_len;
static bool have_peer; /* a state file is worth keeping only with a peer */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (ON(O_QUIET))
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	elk_warn("%s", buf);
}

static long num_opt(int i, long def, long min, long max)
{
	char *end;
	long v;

	if (!ON(i))
		return def;
	v = strtol(OPT(i), &end, 10);
	if (!*OPT(i) || *end || v < min || v > max)
		elk_die_usage("%s: \"%s\" is not a number from %ld to %ld", opts[i].flag, OPT(i), min, max);
	return v;
}

/* Seconds, fractions allowed (0.5), for intervals and timeouts. */
static double secs_opt(int i, double def, double min, double max)
{
	return elk_opt_seconds_frac(ON(i) ? OPT(i) : NULL, NULL, opts[i].flag, def, min, max);
}

static size_t parse_list(int i, const char *def, struct elk_cidr *out, bool need_prefix)
{
	const char *s = ON(i) ? OPT(i) : def;
	char *copy, *tok, *save = NULL;
	size_t n = 0;

	if (!s)
		return 0;
	copy = strdup(s);
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n == ELK_KEYX_MAX_ADDRS)
			elk_die_usage("%s: at most %d addresses", opts[i].flag, ELK_KEYX_MAX_ADDRS);
		if (elk_cidr_parse(tok, &out[n]) || (need_prefix && !strchr(tok, '/')))
			elk_die_usage("%s: \"%s\" is not %s", opts[i].flag, tok,
				      need_prefix ? "a CIDR like 10.0.0.1/24" : "an IP address");
		n++;
	}
	free(copy);
	return n;
}

/* ---- records out ---------------------------------------------------- */

static void add_record(json_t *rec)
{
	char *s = json_dumps(rec, JSON_COMPACT);
	char *g;

	json_decref(rec);
	if (!s || !(g = realloc(records, records_len + strlen(s) + 2)))
		elk_die_sys("out of memory");
	records = g;
	memcpy(records + records_len, s, strlen(s));
	records_len += strlen(s);
	records[records_len++] = '\n';
	records[records_len] = 0;
	sodium_memzero(s, strlen(s));
	free(s);
}

/* Prints what add_record gathered since the last flush (to stdout, or the
 * whole of it to --out), and keeps --state up to date. */
static void flush_records(size_t *printed)
{
	int r;

	if (ON(O_STATE) && have_peer &&
	    (r = elk_write_file_atomic(OPT(O_STATE), records, records_len))) {
		errno = -r;
		elk_die_sys("cannot write state file %s", OPT(O_STATE));
	}
	if (ON(O_OUT)) {
		if ((r = elk_write_file_atomic(OPT(O_OUT), records, records_len))) {
			errno = -r;
			elk_die_sys("cannot write %s", OPT(O_OUT));
		}
	} else {
		if (*printed == 0 && elk_fd_readable_by_others(STDOUT_FILENO))
			elk_warn("warning: stdout is a file that others can read, and it now holds "
				 "a private key; use --out FILE for a 0600 file");
		if (fwrite(records + *printed, 1, records_len - *printed, stdout) !=
			    records_len - *printed || fflush(stdout))
			elk_die_sys("cannot write to stdout");
	}
	*printed = records_len;
}

/* ---- line I/O with timeouts ---------------------------------------- */

struct conn {
	int rfd, wfd;
	char buf[ELK_KEYX_LINE_MAX + 1];
	size_t len;
	int listen_fd; /* dest: refuse others while this one is served */
	char peer[INET6_ADDRSTRLEN + 8];
};

static void refuse_busy(int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	static const char busy[] =
		"{\"type\":\"keyx\",\"step\":\"error\",\"error\":\"busy\","
		"\"message\":\"another source is pairing; try again later\"}\n";

	if (fd >= 0) {
		(void)!write(fd, busy, sizeof(busy) - 1);
		close(fd);
		say("refused a second source while pairing (busy)");
	}
}

/* One line: 1 and *out (valid until the next call), 0 at EOF or timeout
 * (errno ETIMEDOUT), -1 on an overlong line. */
static int conn_line(struct conn *c, char **out)
{
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		struct pollfd p[2] = { { c->rfd, POLLIN, 0 }, { c->listen_fd, POLLIN, 0 } };
		long left;
		ssize_t n;

		if (nl) {
			static char line[ELK_KEYX_LINE_MAX + 1];
			size_t l = (size_t)(nl - c->buf);

			memcpy(line, c->buf, l);
			line[l] = 0;
			memmove(c->buf, nl + 1, c->len - l - 1);
			c->len -= l + 1;
			*out = line;
			return 1;
		}
		if (c->len >= ELK_KEYX_LINE_MAX)
			return -1;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		left = timeout_ms - ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0) {
			errno = ETIMEDOUT;
			return 0;
		}
		if (poll(p, c->listen_fd >= 0 ? 2 : 1, (int)left) < 0 && errno != EINTR)
			return 0;
		if (c->listen_fd >= 0 && (p[1].revents & POLLIN))
			refuse_busy(c->listen_fd);
		if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = read(c->rfd, c->buf + c->len, ELK_KEYX_LINE_MAX - c->len);
		if (n <= 0) {
			errno = n == 0 ? ECONNRESET : errno;
			return 0;
		}
		c->len += (size_t)n;
	}
}

static int conn_send(struct conn *c, json_t *msg)
{
	char *s = json_dumps(msg, JSON_COMPACT);

	if (ON(O_VERBOSE) && s)
		elk_warn("%s: sent %s", c->peer[0] ? c->peer : "peer", s); /* no secrets in messages */
	size_t n, off = 0;
	int r = 0;

	json_decref(msg);
	if (!s)
		return -ENOMEM;
	n = strlen(s);
	s[n] = '\n'; /* json_dumps left room for the NUL: reuse it */
	while (off < n + 1) {
		ssize_t w = write(c->wfd, s + off, n + 1 - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			r = -EIO;
			break;
		}
		off += (size_t)w;
	}
	free(s);
	return r;
}

/* Parses a protocol message of the expected step; an "error" step from the
 * other side is reported in *err_out. */
static json_t *conn_expect(struct conn *c, const char *step, const char **err_out)
{
	char *line;
	json_t *o;
	const char *type, *got;
	struct elk_err e;
	int r = conn_line(c, &line);

	*err_out = NULL;
	if (r <= 0) {
		*err_out = r < 0 ? "an overlong message" : errno == ETIMEDOUT ? "no answer in time"
									 : "the connection closed";
		return NULL;
	}
	if (ON(O_VERBOSE))
		elk_warn("%s: got %.300s", c->peer[0] ? c->peer : "peer", line);
	/* Anything may come from the network: a port scanner's "GET /"
	 * is refused like any other stranger. */
	if (elk_parse_record(line, strlen(line), &o, &type, &e) < 0) {
		*err_out = "a message that is not el-keyx's (wrong port, or not el-keyx)";
		return NULL;
	}
	if (strcmp(type, "keyx")) {
		json_decref(o);
		*err_out = "a message that is not el-keyx's (wrong port, or not el-keyx)";
		return NULL;
	}
	got = json_string_value(json_object_get(o, "step"));
	if (got && !strcmp(got, "error")) {
		static char msg[256];
		const char *m = json_string_value(json_object_get(o, "message"));
		const char *code = json_string_value(json_object_get(o, "error"));

		snprintf(msg, sizeof(msg), "the other side refused: %s%s%s", code ? code : "error",
			 m ? ": " : "", m ? m : "");
		*err_out = msg;
		json_decref(o);
		return NULL;
	}
	if (!got || strcmp(got, step)) {
		*err_out = "a message out of order";
		json_decref(o);
		return NULL;
	}
	return o;
}

static int send_error(struct conn *c, const char *code, const char *message)
{
	json_t *m = json_pack("{s:s,s:s,s:s,s:s}", "type", "keyx", "step", "error", "error", code,
			      "message", message);

	return conn_send(c, m);
}

static void set_b64(json_t *o, const char *k, const uint8_t *b, size_t n)
{
	char buf[128];

	sodium_bin2base64(buf, sizeof(buf), b, n, sodium_base64_VARIANT_ORIGINAL);
	json_object_set_new(o, k, json_string(buf));
}

static int get_b64(const json_t *o, const char *k, uint8_t *out, size_t n)
{
	const char *s = json_string_value(json_object_get(o, k));
	size_t len;

	if (!s || sodium_base642bin(out, n, s, strlen(s), NULL, &len, NULL,
				    sodium_base64_VARIANT_ORIGINAL) || len != n)
		return -EINVAL;
	return 0;
}

static void show_peer(const uint8_t pub[ELK_KEY_LEN], const char *who)
{
	char b64[ELK_KEY_B64_LEN + 1], fp[20];

	elk_key_to_base64(b64, pub);
	elk_keyx_fingerprint(pub, fp);
	say("%s key %s (fingerprint %s)%s", who, b64, fp,
	    have_token ? ", authenticated by the token" : have_pin ? ", as pinned" :
	    ", NOT authenticated: trust on first use (pin it with --peer-key)");
}

/* ---- the destination ------------------------------------------------ */

enum outcome { PAIRED, RETRY, REFUSED };

/* Serves one source on c. */
static enum outcome dest_session(struct conn *c, const struct elk_keyx_config *cfg,
				 uint8_t peer_pub[ELK_KEY_LEN])
{
	struct elk_keyx_transcript t = { .config = cfg };
	uint8_t mac[ELK_KEYX_MAC_LEN], got[ELK_KEYX_MAC_LEN];
	const char *err;
	json_t *m = conn_expect(c, "hello", &err), *offer;
	long long version;

	if (!m) {
		say("%s: %s", c->peer, err);
		return RETRY;
	}
	version = json_integer_value(json_object_get(m, "version"));
	if (version != ELK_KEYX_VERSION || get_b64(m, "nonce", t.nonce_s, sizeof(t.nonce_s)) ||
	    get_b64(m, "public_key", t.pub_s, sizeof(t.pub_s))) {
		json_decref(m);
		send_error(c, "protocol", "unknown version or a malformed hello");
		say("%s: a malformed hello (version %lld); refused", c->peer, version);
		return RETRY;
	}
	json_decref(m);
	if (have_pin && !elk_key_eq(t.pub_s, pinned)) {
		send_error(c, "key", "your key is not the one pinned here");
		elk_warn("%s: REFUSED: its key is not the pinned --peer-key", c->peer);
		return REFUSED;
	}
	memcpy(t.pub_d, own_pub, ELK_KEY_LEN);
	randombytes_buf(t.nonce_d, sizeof(t.nonce_d));
	offer = json_pack("{s:s,s:s}", "type", "keyx", "step", "offer");
	set_b64(offer, "nonce", t.nonce_d, sizeof(t.nonce_d));
	set_b64(offer, "public_key", own_pub, ELK_KEY_LEN);
	json_object_set_new(offer, "config", elk_keyx_config_to_json(cfg));
	if (have_token) {
		elk_keyx_mac(mac_key, 'D', &t, mac);
		set_b64(offer, "mac", mac, sizeof(mac));
	}
	if (conn_send(c, offer))
		return RETRY;
	m = conn_expect(c, "accept", &err);
	if (!m) {
		bool refused = err && strstr(err, "refused");

		if (refused)
			elk_warn("%s: REFUSED: %s", c->peer, err);
		else
			say("%s: %s", c->peer, err ? err : "no accept");
		return refused ? REFUSED : RETRY;
	}
	if (have_token) {
		elk_keyx_mac(mac_key, 'S', &t, mac);
		if (get_b64(m, "mac", got, sizeof(got)) || sodium_memcmp(mac, got, sizeof(mac))) {
			json_decref(m);
			send_error(c, "auth", "the exchange did not authenticate");
			elk_warn("%s: REFUSED: the source did not prove it holds the token, or the "
				 "exchange was changed on the way (someone in the middle?)", c->peer);
			return REFUSED;
		}
	}
	json_decref(m);
	/* "done" is the caller's, after it printed the peer: see run_dest. */
	memcpy(peer_pub, t.pub_s, ELK_KEY_LEN);
	return PAIRED;
}

static int listen_socket(const char *bind_addr, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *res, *ai;
	int fd = -1, one = 1, r;

	hints.ai_family = bind_addr ? AF_UNSPEC : AF_INET6;
	if ((r = getaddrinfo(bind_addr, port, &hints, &res)))
		elk_die(ELK_EXIT_USAGE, "--bind: \"%s\": %s", bind_addr, gai_strerror(r));
	for (ai = res; ai; ai = ai->ai_next) {
		int zero = 0;

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 8) == 0)
			break;
		close(fd);
		fd = -1;
	}
	if (fd < 0 && !bind_addr) {
		/* No IPv6 here: IPv4 only. */
		hints.ai_family = AF_INET;
		freeaddrinfo(res);
		if (getaddrinfo(NULL, port, &hints, &res) == 0 && res) {
			fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			if (bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, 8)) {
				close(fd);
				fd = -1;
			}
		}
	}
	if (fd < 0)
		elk_die_sys("cannot listen on TCP port %s", port);
	freeaddrinfo(res);
	return fd;
}

static void peer_name(int fd, struct conn *c, const struct elk_keyx_config *cfg, char *endpoint)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char ip[INET6_ADDRSTRLEN];
	const void *a;

	endpoint[0] = 0;
	snprintf(c->peer, sizeof(c->peer), "source");
	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return;
	if (ss.ss_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&ss)->sin6_addr)) {
		a = &((struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr[12];
		inet_ntop(AF_INET, a, ip, sizeof(ip));
		snprintf(endpoint, ELK_ENDPOINT_MAX, "%s:%u", ip, cfg->wg_port);
	} else if (ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, ip, sizeof(ip));
		snprintf(endpoint, ELK_ENDPOINT_MAX, "[%s]:%u", ip, cfg->wg_port);
	} else {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip, sizeof(ip));
		snprintf(endpoint, ELK_ENDPOINT_MAX, "%s:%u", ip, cfg->wg_port);
	}
	snprintf(c->peer, sizeof(c->peer), "%s", ip);
}

static int run_dest(const struct elk_keyx_config *base)
{
	unsigned slot = 0; /* the next source's place in the address range */
	size_t printed = 0;
	int lfd = -1;
	char port[8];

	snprintf(port, sizeof(port), "%ld", num_opt(O_PORT, ELK_KEYX_PORT, 1, 65535));
	if (!ON(O_STDIO)) {
		lfd = listen_socket(OPT(O_BIND), port);
		say("listening on TCP port %s for a source%s", port,
		    have_token ? " (token required)" : " (no token: first comer, trust on first use)");
	}
	/* The interface first: el-link up can create the device, take its
	 * key and bind the port while we wait, so that when the source's
	 * first handshake arrives only the peer is left to add. */
	add_record(elk_keyx_iface(own_priv, base, true));
	flush_records(&printed);
	for (;;) {
		struct conn c = { .rfd = STDIN_FILENO, .wfd = STDOUT_FILENO, .listen_fd = lfd };
		struct elk_keyx_config cfg;
		uint8_t peer_pub[ELK_KEY_LEN];
		char endpoint[ELK_ENDPOINT_MAX] = "";
		enum outcome o;
		int fd = -1;

		/* Step over the destination's own addresses, which may sit
		 * inside the sources' range; past that, the range is full. */
		for (int skip = 0; elk_keyx_nth_source(base, slot, &cfg); skip++, slot++)
			if (skip > ELK_KEYX_MAX_ADDRS)
				elk_die(ELK_EXIT_NO, "no more source addresses in the network");
		if (lfd >= 0) {
			c.listen_fd = -1;
			fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd < 0)
				continue;
			c.rfd = c.wfd = fd;
			c.listen_fd = lfd;
			peer_name(fd, &c, &cfg, endpoint);
			say("%s connected", c.peer);
		} else {
			snprintf(c.peer, sizeof(c.peer), "stdio");
		}
		o = dest_session(&c, &cfg, peer_pub);
		if (o == PAIRED) {
			show_peer(peer_pub, "paired with source");
			add_record(elk_keyx_peer(peer_pub, &cfg, true, endpoint));
			have_peer = true;
			flush_records(&printed);
			/* Only now tell the source: by the time its handshake
			 * arrives, our el-link has had the peer first. */
			conn_send(&c, json_pack("{s:s,s:s}", "type", "keyx", "step", "done"));
		}
		if (fd >= 0)
			close(fd);
		if (o == PAIRED) {
			slot++;
			if (!ON(O_KEEP))
				break;
		} else if (lfd < 0) {
			return ELK_EXIT_NO; /* stdio carries one exchange */
		}
		/* A failed source does not end the service: anyone who can
		 * reach the port could otherwise stop it. */
	}
	if (lfd >= 0)
		close(lfd);
	return ELK_EXIT_OK;
}

/* ---- the source ----------------------------------------------------- */

static int connect_timeout(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int fd = -1, r;

	if ((r = getaddrinfo(host, port, &hints, &res))) {
		errno = EHOSTUNREACH;
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		struct pollfd p;
		int err = 0;
		socklen_t el = sizeof(err);

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS) {
			p.fd = fd;
			p.events = POLLOUT;
			if (poll(&p, 1, timeout_ms) == 1 &&
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0)
				break;
			errno = err ? err : ETIMEDOUT;
		}
		r = errno;
		close(fd);
		fd = -1;
		errno = r;
	}
	freeaddrinfo(res);
	if (fd >= 0)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

/* One attempt over c. */
static enum outcome source_session(struct conn *c, struct elk_keyx_config *cfg,
				   uint8_t peer_pub[ELK_KEY_LEN], const char **why)
{
	struct elk_keyx_transcript t = { .config = cfg };
	uint8_t mac[ELK_KEYX_MAC_LEN], got[ELK_KEYX_MAC_LEN];
	struct elk_err e;
	json_t *m = json_pack("{s:s,s:s,s:i}", "type", "keyx", "step", "hello", "version",
			      ELK_KEYX_VERSION);
	const char *err;

	randombytes_buf(t.nonce_s, sizeof(t.nonce_s));
	memcpy(t.pub_s, own_pub, ELK_KEY_LEN);
	set_b64(m, "nonce", t.nonce_s, sizeof(t.nonce_s));
	set_b64(m, "public_key", own_pub, ELK_KEY_LEN);
	if (conn_send(c, m))
		return *why = "the connection closed", RETRY;
	m = conn_expect(c, "offer", &err);
	if (!m) {
		*why = err;
		/* busy is worth another try; any other refusal is not */
		return err && strstr(err, "refused") && !strstr(err, "busy") ? REFUSED : RETRY;
	}
	if (get_b64(m, "nonce", t.nonce_d, sizeof(t.nonce_d)) ||
	    get_b64(m, "public_key", t.pub_d, sizeof(t.pub_d)) ||
	    elk_keyx_config_from_json(json_object_get(m, "config"), cfg, &e)) {
		json_decref(m);
		send_error(c, "protocol", "a malformed offer");
		return *why = "a malformed offer from the destination", REFUSED;
	}
	if (have_token) {
		elk_keyx_mac(mac_key, 'D', &t, mac);
		if (get_b64(m, "mac", got, sizeof(got)) || sodium_memcmp(mac, got, sizeof(mac))) {
			json_decref(m);
			send_error(c, "auth", "the exchange did not authenticate");
			return *why = "the destination did not prove it holds the token: a wrong "
				      "token, or someone in the middle changed the exchange", REFUSED;
		}
	}
	json_decref(m);
	if (have_pin && !elk_key_eq(t.pub_d, pinned)) {
		send_error(c, "key", "your key is not the one pinned here");
		return *why = "the destination's key is not the pinned --peer-key", REFUSED;
	}
	m = json_pack("{s:s,s:s}", "type", "keyx", "step", "accept");
	if (have_token) {
		elk_keyx_mac(mac_key, 'S', &t, mac);
		set_b64(m, "mac", mac, sizeof(mac));
	}
	if (conn_send(c, m))
		return *why = "the connection closed", RETRY;
	m = conn_expect(c, "done", &err);
	if (!m) {
		*why = err;
		return err && strstr(err, "refused") ? REFUSED : RETRY;
	}
	json_decref(m);
	memcpy(peer_pub, t.pub_d, ELK_KEY_LEN);
	return PAIRED;
}

static int run_source(const char *target)
{
	char host[256], port[8], endpoint[ELK_ENDPOINT_MAX];
	double interval = secs_opt(O_RETRY, 15, 0, 86400);
	long attempts = num_opt(O_ATTEMPTS, 0, 0, 1000000);
	struct elk_keyx_config cfg;
	uint8_t peer_pub[ELK_KEY_LEN];
	size_t printed = 0;
	const char *why = NULL;

	snprintf(port, sizeof(port), "%ld", num_opt(O_PORT, ELK_KEYX_PORT, 1, 65535));
	host[0] = 0;
	if (target) {
		uint16_t p;
		char probe[300];

		/* HOST, HOST:PORT, [V6] or [V6]:PORT */
		snprintf(probe, sizeof(probe), "%s", target);
		if (elk_endpoint_split(probe, host, sizeof(host), &p) == 0) {
			snprintf(port, sizeof(port), "%u", p);
		} else if (target[0] == '[' && target[strlen(target) - 1] == ']') {
			snprintf(host, sizeof(host), "%.*s", (int)strlen(target) - 2, target + 1);
		} else {
			snprintf(host, sizeof(host), "%s", target);
		}
	}
	for (long n = 1;; n++) {
		struct conn c = { .rfd = STDIN_FILENO, .wfd = STDOUT_FILENO, .listen_fd = -1 };
		enum outcome o;
		int fd = -1;

		snprintf(c.peer, sizeof(c.peer), "%s", ON(O_STDIO) ? "stdio" : host);
		if (!ON(O_STDIO)) {
			say("connecting to %s port %s (attempt %ld)", host, port, n);
			fd = connect_timeout(host, port);
			if (fd < 0) {
				why = strerror(errno);
				o = RETRY;
				goto next;
			}
			c.rfd = c.wfd = fd;
		}
		o = source_session(&c, &cfg, peer_pub, &why);
		if (fd >= 0)
			close(fd);
		if (o == PAIRED)
			break;
		if (o == REFUSED)
			elk_die(ELK_EXIT_NO, "REFUSED: %s", why);
	next:
		if (ON(O_STDIO))
			elk_die(ELK_EXIT_NO, "the exchange failed: %s", why);
		if (attempts && n >= attempts)
			elk_die(ELK_EXIT_NO, "no pairing after %ld attempts: %s", n, why);
		say("%s; next attempt in %g s", why, interval);
		{
			struct timespec ts = { (time_t)interval,
					       (long)((interval - (double)(time_t)interval) * 1e9) };

			while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
				;
		}
	}
	show_peer(peer_pub, "paired with destination");
	if (cfg.endpoint[0])
		snprintf(endpoint, sizeof(endpoint), "%s", cfg.endpoint);
	else if (ON(O_ENDPOINT))
		snprintf(endpoint, sizeof(endpoint), "%s", OPT(O_ENDPOINT));
	else if (host[0])
		snprintf(endpoint, sizeof(endpoint), strchr(host, ':') ? "[%s]:%u" : "%s:%u", host,
			 cfg.wg_port);
	else {
		endpoint[0] = 0;
		say("warning: no endpoint for the destination (give --endpoint); the destination "
		    "must start the handshake");
	}
	add_record(elk_keyx_iface(own_priv, &cfg, false));
	add_record(elk_keyx_peer(peer_pub, &cfg, false, endpoint));
	have_peer = true;
	flush_records(&printed);
	return ELK_EXIT_OK;
}

/* ---- state and presets ---------------------------------------------- */

/* Prints a state file's records when it holds an iface and a peer. */
static bool restore_state(const char *path)
{
	FILE *f = fopen(path, "r");
	struct elk_reader rd;
	struct elk_err e;
	struct elk_device d = { 0 };
	json_t *rec;
	const char *type;
	size_t printed = 0;
	int r, ifaces = 0;

	if (!f) {
		if (errno == ENOENT)
			return false;
		elk_die_sys("cannot read state file %s", path);
	}
	elk_reader_init(&rd, f);
	while ((r = elk_read_record(&rd, &rec, &type, &e)) > 0) {
		if (!strcmp(type, "iface")) {
			r = elk_device_apply_iface(&d, rec, &e);
			ifaces++;
		} else if (!strcmp(type, "peer")) {
			r = elk_device_apply_peer(&d, rec, &e);
		}
		if (r < 0) {
			json_decref(rec);
			break;
		}
		add_record(rec); /* takes the reference */
	}
	elk_reader_free(&rd);
	fclose(f);
	if (r < 0)
		elk_die(ELK_EXIT_USAGE, "state file %s: line %lu: %s", path, rd.lineno, e.msg);
	if (ifaces != 1 || d.n_peers == 0 || !(d.flags & ELK_DEV_PRIVATE_KEY))
		elk_die(ELK_EXIT_USAGE, "state file %s: want one iface record with a private key "
			"and at least one peer", path);
	say("restored from %s: no exchange", path);
	elk_device_clear(&d);
	opts[O_STATE].val = NULL; /* nothing new to keep */
	flush_records(&printed);
	return true;
}

static void load_own_key(void)
{
	struct elk_err e;
	FILE *f = stdin;
	int r;

	if (ON(O_KEY) && !(f = fopen(OPT(O_KEY), "r")))
		elk_die_sys("cannot open %s", OPT(O_KEY));
	if (f == stdin && (ON(O_STDIO) || isatty(STDIN_FILENO)))
		r = -ENODATA;
	else
		r = elk_read_private_key(f, own_priv, &e);
	if (f != stdin)
		fclose(f);
	if (r == -ENODATA) {
		elk_key_generate_private(own_priv);
		say("made a new key pair (none on %s)", ON(O_KEY) ? OPT(O_KEY) : "stdin");
	} else if (r) {
		elk_die(ELK_EXIT_USAGE, "%s%s%s", ON(O_KEY) ? OPT(O_KEY) : "", ON(O_KEY) ? ": " : "",
			e.msg);
	}
	if (elk_key_public(own_pub, own_priv))
		elk_die(ELK_EXIT_USAGE, "private_key: not a usable Curve25519 key");
}

static void load_token(void)
{
	const char *t = OPT(O_TOKEN);
	char buf[256];
	struct elk_err e;

	if (ON(O_TOKEN) && ON(O_TOKEN_FILE))
		elk_die_usage("give --token or --token-file, not both");
	if (ON(O_TOKEN_FILE)) {
		FILE *f = fopen(OPT(O_TOKEN_FILE), "r");
		size_t n;

		if (!f)
			elk_die_sys("cannot open %s", OPT(O_TOKEN_FILE));
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = 0;
		buf[strcspn(buf, "\r\n")] = 0;
		t = buf;
	}
	if (!t)
		return;
	if (elk_keyx_token_key(t, mac_key, &e))
		elk_die(ELK_EXIT_USAGE, "%s", e.msg);
	have_token = true;
	sodium_memzero(buf, sizeof(buf));
}

int main(int argc, char **argv)
{
	const char *cmd = NULL, *target = NULL;
	struct elk_keyx_config base = { 0 };
	int code;

	elk_init(argv[0]);
	elk_std_opts(argc, argv, help);
	signal(SIGPIPE, SIG_IGN);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int k;

		if (!strcmp(a, "-q"))
			a = "--quiet";
		if (!strcmp(a, "-v"))
			a = "--verbose";
		for (k = 0; k < O_COUNT; k++)
			if (!strcmp(a, opts[k].flag))
				break;
		if (k < O_COUNT) {
			if (opts[k].boolean) {
				opts[k].val = "1";
			} else {
				if (i + 1 >= argc)
					elk_die_usage("%s needs a value", a);
				opts[k].val = argv[++i];
			}
		} else if (a[0] == '-' && a[1]) {
			elk_die_usage("unknown option %s", a);
		} else if (!cmd) {
			cmd = a;
		} else if (!target && !strcmp(cmd, "connect")) {
			target = a;
		} else {
			elk_die_usage("unexpected argument \"%s\"", a);
		}
	}
	for (int k = 0; k < O_COUNT; k++) {
		const char *v;

		if (!opts[k].val && opts[k].env && (v = getenv(opts[k].env)) && *v &&
		    (!opts[k].boolean || (strcmp(v, "0") && strcmp(v, "no") && strcmp(v, "false"))))
			opts[k].val = v;
	}
	if (!cmd || (strcmp(cmd, "listen") && strcmp(cmd, "connect")))
		elk_die_usage(cmd ? "unknown subcommand \"%s\"" : "a subcommand is missing: listen "
			      "or connect%s", cmd ? cmd : "");
	dest = !strcmp(cmd, "listen");
	if (!dest && !target && !ON(O_STDIO) && !ON(O_PRESET))
		elk_die_usage("connect: HOST is missing");
	if (ON(O_KEEP) && (!dest || ON(O_STATE) || ON(O_STDIO)))
		elk_die_usage("--keep is for 'listen' over TCP, without --state");
	if (ON(O_STDIO) && !ON(O_OUT))
		elk_die_usage("--stdio speaks the exchange on stdout: give --out FILE for the records");
	timeout_ms = (int)(secs_opt(O_TIMEOUT, 3, 0.01, 3600) * 1000);
	load_token();
	if (ON(O_PEER_KEY)) {
		if (elk_key_from_base64(pinned, OPT(O_PEER_KEY)))
			elk_die(ELK_EXIT_USAGE, "--peer-key: \"%.64s\" is not a public key", OPT(O_PEER_KEY));
		have_pin = true;
	}
	/* What the destination decides (the source takes it from the offer;
	 * its own flags matter only with --preset). */
	base.n_dest = parse_list(O_DEST_ADDR, "10.0.0.1/24", base.dest_addrs, true);
	base.n_source = parse_list(O_SOURCE_ADDR, "10.0.0.2/24", base.source_addrs, true);
	base.n_dns = parse_list(O_DNS, NULL, base.dns, false);
	base.wg_port = (uint16_t)num_opt(O_WG_PORT, 51820, 1, 65535);
	base.keepalive = (uint16_t)num_opt(O_KEEPALIVE, 25, 0, 65535);
	base.mtu = (uint32_t)num_opt(O_MTU, ELK_MTU_DEFAULT, ELK_MTU_MIN, ELK_MTU_MAX);
	if (ON(O_ENDPOINT)) {
		char h[256];
		uint16_t p;

		if (strlen(OPT(O_ENDPOINT)) >= sizeof(base.endpoint) ||
		    elk_endpoint_split(OPT(O_ENDPOINT), h, sizeof(h), &p))
			elk_die_usage("--endpoint: \"%s\" is not HOST:PORT", OPT(O_ENDPOINT));
		if (dest)
			strcpy(base.endpoint, OPT(O_ENDPOINT));
	}
	if (ON(O_STATE) && restore_state(OPT(O_STATE)))
		return ELK_EXIT_OK;
	load_own_key();
	if (ON(O_PRESET)) {
		size_t printed = 0;
		char ep[ELK_ENDPOINT_MAX] = "";

		if (!have_pin)
			elk_die_usage("--preset needs --peer-key: the other side's public key");
		if (ON(O_ENDPOINT))
			snprintf(ep, sizeof(ep), "%s", OPT(O_ENDPOINT));
		else if (target)
			snprintf(ep, sizeof(ep), strchr(target, ':') ? "[%s]:%u" : "%s:%u", target,
				 base.wg_port);
		add_record(elk_keyx_iface(own_priv, &base, dest));
		add_record(elk_keyx_peer(pinned, &base, dest, ep));
		have_peer = true;
		flush_records(&printed);
		say("preset keys: no exchange");
		code = ELK_EXIT_OK;
	} else {
		code = dest ? run_dest(&base) : run_source(target);
	}
	sodium_memzero(own_priv, sizeof(own_priv));
	sodium_memzero(mac_key, sizeof(mac_key));
	if (records) {
		sodium_memzero(records, records_len);
		free(records);
	}
	return code;
}
