/* el-punch - NAT traversal, stage one: where does this WireGuard device's
 * port appear from outside? Asks STUN servers (RFC 8489 Binding, lib/stun.h)
 * from the device's own listen port, so that the answer is the NAT mapping
 * WireGuard's packets get, and prints it as an endpoint fact about us that
 * el-facts gossip announces to the peers (el-punch(1)).
 *
 * The device owns its port (the kernel's socket or el-link's), so the
 * request goes out through a raw socket with that source port, and the
 * answer is read from a raw socket too, which sees a copy of every UDP
 * datagram the host receives (the device's socket drops it as garbage).
 * This works the same for both backends; it needs CAP_NET_RAW. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <linux/filter.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "cli.h"
#include "facts_local.h"
#include "key.h"
#include "model.h"
#include "records.h"
#include "stun.h"

static const char help[] =
"Usage: el-punch stun IFACE --server HOST[:PORT] [--server ...] [--timeout S]\n"
"                [--ttl S] [--every S] [--port PORT] [--self PUBKEY] [-q]\n"
"\n"
"Asks STUN servers (RFC 8489 Binding) from IFACE's WireGuard listen port and\n"
"prints where that port appears from outside, as an endpoint fact about us:\n"
"  {\"type\":\"fact\",\"subject\":OUR_KEY,\"attribute\":\"endpoint\",\n"
"   \"value\":\"198.51.100.7:51820\",\"ttl\":255}\n"
"one per distinct answer. Fed to el-facts gossip, peers learn it, and\n"
"el-trust tries it as a candidate: two nodes behind NATs that both do this\n"
"punch through to each other.\n"
"\n"
"Options:\n"
"  --server HOST[:PORT]  a STUN server (port 3478 by default); repeat for more\n"
"                        (env EL_PUNCH_SERVERS, separated by spaces or commas)\n"
"  --timeout S           give up on a server after S seconds (default 3;\n"
"                        fractions allowed; env EL_PUNCH_TIMEOUT); requests are\n"
"                        sent again after 0.5, 1.5, 3.5 s...\n"
"  --ttl S               the facts' ttl (default 255; env EL_PUNCH_TTL)\n"
"  --every S             keep running: ask again every S seconds, and print an\n"
"                        endpoint that went away with ttl 0 (gossip then stops\n"
"                        announcing it) (env EL_PUNCH_EVERY)\n"
"  --port PORT           the source port, when IFACE's cannot be read\n"
"  --self PUBKEY         the fact's subject, when IFACE's key cannot be read\n"
"  -q, --quiet           no progress on stderr\n"
"  -h, --help            this help;  --version  the version\n"
"\n"
"Example:\n"
"  el-punch stun wg0 --server stun.example.net --every 60 |\n"
"    el-facts gossip wg0 | el-trust --iface wg0 --peers | ...\n"
"\n"
"Needs CAP_NET_RAW (root): the device owns the port, so el-punch sends and\n"
"listens through raw sockets. When servers see different ports, the NAT maps\n"
"per destination and punching will likely fail: el-punch says so.\n"
"Exit: 0 a server answered, 1 none did, 100 usage, 111 system failure.\n";

#define MAX_SERVERS 16

struct server {
	const char *name;     /* as given */
	struct sockaddr_storage sa;
	socklen_t salen;
	uint8_t txid[ELK_STUN_TXID];
	bool done;
};

static bool quiet;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	fprintf(stderr, "%s: ", elk_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "HOST", "HOST:PORT", "IPv6", "[IPv6]:PORT": resolved, numeric. */
static void resolve_server(struct server *s)
{
	char host[256], buf[300], port_s[8];
	uint16_t port;
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_protocol = IPPROTO_UDP }, *res;
	const char *colon = strchr(s->name, ':');
	int r;

	if (elk_endpoint_split(s->name, host, sizeof(host), &port) < 0) {
		/* no port: a name, an IPv4 address or a bare IPv6 address */
		struct in6_addr a6;

		snprintf(buf, sizeof(buf), colon ? "[%s]:%u" : "%s:%u", s->name, ELK_STUN_PORT);
		if ((colon && inet_pton(AF_INET6, s->name, &a6) != 1) ||
		    elk_endpoint_split(buf, host, sizeof(host), &port) < 0)
			elk_die_usage("--server: \"%.64s\" is not HOST[:PORT]", s->name);
	}
	snprintf(port_s, sizeof(port_s), "%u", port);
	if ((r = getaddrinfo(host, port_s, &hints, &res)))
		elk_die(ELK_EXIT_SYS, "--server %s: %s", s->name, gai_strerror(r));
	memcpy(&s->sa, res->ai_addr, res->ai_addrlen);
	s->salen = res->ai_addrlen;
	freeaddrinfo(res);
}

static uint16_t sa_port(const struct sockaddr_storage *sa)
{
	return ntohs(sa->ss_family == AF_INET ? ((const struct sockaddr_in *)sa)->sin_port
					      : ((const struct sockaddr_in6 *)sa)->sin6_port);
}

/* A raw UDP socket per family, opened on first use. */
static int raw4 = -1, raw6 = -1;

static uint16_t filter_port;

/* A raw socket sees every UDP datagram the host receives; on a busy
 * WireGuard host that is all its traffic. A classic BPF filter keeps only
 * those to our port: IPv4 sockets see the IP header first (its length in
 * the low nibble of byte 0), IPv6 ones start at the UDP header. */
static void attach_filter(int fd, int family)
{
	struct sock_filter v4[] = {
		BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),
		BPF_STMT(BPF_LD | BPF_H | BPF_IND, 2),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, filter_port, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_filter v6[] = {
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 2),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, filter_port, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = {
		.len = family == AF_INET ? sizeof(v4) / sizeof(v4[0]) : sizeof(v6) / sizeof(v6[0]),
		.filter = family == AF_INET ? v4 : v6,
	};

	/* Only an optimisation: match() checks every datagram anyway. */
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0)
		say("no socket filter (%s): reading all UDP traffic", strerror(errno));
}

static int raw_socket(int family)
{
	int *fd = family == AF_INET ? &raw4 : &raw6;

	if (*fd >= 0)
		return *fd;
	*fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_UDP);
	if (*fd < 0) {
		if (errno == EPERM || errno == EACCES)
			elk_die(ELK_EXIT_SYS, "cannot open a raw socket: %s (el-punch needs "
				"CAP_NET_RAW: run it as root)", strerror(errno));
		elk_die_sys("cannot open a raw IPv%c socket", family == AF_INET ? '4' : '6');
	}
	if (family == AF_INET6) {
		int off = 6; /* the kernel fills in the UDP checksum */

		if (setsockopt(*fd, IPPROTO_IPV6, IPV6_CHECKSUM, &off, sizeof(off)) < 0)
			elk_die_sys("IPV6_CHECKSUM");
	}
	attach_filter(*fd, family);
	return *fd;
}

static void send_request(struct server *s, uint16_t sport)
{
	uint8_t pkt[8 + ELK_STUN_HEADER];
	struct udphdr *u = (struct udphdr *)pkt;
	struct sockaddr_storage dst = s->sa;
	int fd = raw_socket(s->sa.ss_family);

	u->source = htons(sport);
	u->dest = htons(sa_port(&s->sa));
	u->len = htons(sizeof(pkt));
	u->check = 0; /* IPv4: none; IPv6: the kernel's (IPV6_CHECKSUM) */
	elk_stun_request(pkt + 8, s->txid);
	/* A raw socket's destination port must be 0 (or the protocol). */
	if (dst.ss_family == AF_INET)
		((struct sockaddr_in *)&dst)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&dst)->sin6_port = 0;
	if (sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&dst, s->salen) < 0)
		say("%s: cannot send: %s", s->name, strerror(errno));
}

static bool same_host(const struct sockaddr_storage *a, int family, const void *addr)
{
	if (a->ss_family != family)
		return false;
	if (family == AF_INET)
		return !memcmp(&((const struct sockaddr_in *)a)->sin_addr, addr, 4);
	return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, addr, 16);
}

/* One datagram from a raw socket: the answer of one of servers to us? */
static struct server *match(struct server *sv, size_t n, int family, const uint8_t *buf,
			    size_t len, const struct sockaddr_storage *from, uint16_t sport,
			    struct elk_stun_addr *out, struct elk_err *e, int *r)
{
	const uint8_t *udp = buf, *src;
	uint8_t src6[16];

	if (family == AF_INET) {
		size_t ihl;

		if (len < 20 || (buf[0] >> 4) != 4 || buf[9] != IPPROTO_UDP)
			return NULL;
		ihl = (size_t)(buf[0] & 15) * 4;
		if (ihl < 20 || len < ihl + 8)
			return NULL;
		src = buf + 12;
		udp = buf + ihl;
		len -= ihl;
	} else {
		if (len < 8)
			return NULL;
		memcpy(src6, &((const struct sockaddr_in6 *)from)->sin6_addr, 16);
		src = src6;
	}
	const struct udphdr *u = (const struct udphdr *)udp;

	if (ntohs(u->dest) != sport)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		struct server *s = &sv[i];

		if (s->done || !same_host(&s->sa, family, src) || ntohs(u->source) != sa_port(&s->sa))
			continue;
		*r = elk_stun_response(udp + 8, len - 8, s->txid, out, e);
		if (*r != -EAGAIN)
			return s;
	}
	return NULL;
}

struct answer {
	char endpoint[ELK_ENDPOINT_MAX];
	const char *server;
};

/* Asks every server; answers (distinct endpoints first seen, in order of
 * arrival) go to ans. Returns how many servers answered. */
static size_t ask(struct server *sv, size_t n, uint16_t sport, int64_t timeout_ms,
		  struct answer *ans, size_t *n_ans)
{
	int64_t start = mono_ms(), next_send = start, rto = 500;
	size_t answered = 0, open = n;

	*n_ans = 0;
	for (size_t i = 0; i < n; i++) {
		randombytes_buf(sv[i].txid, sizeof(sv[i].txid));
		sv[i].done = false;
		raw_socket(sv[i].sa.ss_family);
	}
	while (open) {
		int64_t now = mono_ms();
		struct pollfd p[2];
		int np = 0;

		if (now - start >= timeout_ms)
			break;
		if (now >= next_send) {
			for (size_t i = 0; i < n; i++)
				if (!sv[i].done)
					send_request(&sv[i], sport);
			next_send = now + rto;
			rto *= 2;
		}
		int64_t wait = next_send - now;

		if (start + timeout_ms - now < wait)
			wait = start + timeout_ms - now;
		if (raw4 >= 0)
			p[np++] = (struct pollfd){ .fd = raw4, .events = POLLIN };
		if (raw6 >= 0)
			p[np++] = (struct pollfd){ .fd = raw6, .events = POLLIN };
		if (poll(p, (nfds_t)np, (int)(wait > 0 ? wait : 0)) < 0) {
			if (errno == EINTR)
				continue;
			elk_die_sys("poll");
		}
		for (int k = 0; k < np; k++) {
			uint8_t buf[2048];
			struct sockaddr_storage from;
			socklen_t fl = sizeof(from);
			ssize_t got;
			int family = p[k].fd == raw4 ? AF_INET : AF_INET6;

			if (!(p[k].revents & POLLIN))
				continue;
			while ((got = recvfrom(p[k].fd, buf, sizeof(buf), MSG_DONTWAIT,
					       (struct sockaddr *)&from, &fl)) > 0) {
				struct elk_stun_addr a;
				struct elk_err e;
				int r = 0;
				struct server *s = match(sv, n, family, buf, (size_t)got, &from,
							 sport, &a, &e, &r);

				fl = sizeof(from);
				if (!s)
					continue;
				s->done = true;
				open--;
				if (r) {
					say("%s: %s", s->name, e.msg);
					continue;
				}
				answered++;
				char ep[ELK_ENDPOINT_MAX];
				size_t j;

				elk_stun_addr_format(&a, ep, sizeof(ep));
				say("%s: port %u leaves as %s", s->name, sport, ep);
				for (j = 0; j < *n_ans && strcmp(ans[j].endpoint, ep); j++)
					;
				if (j == *n_ans) {
					snprintf(ans[j].endpoint, sizeof(ans[j].endpoint), "%s", ep);
					ans[j].server = s->name;
					(*n_ans)++;
				}
			}
		}
	}
	for (size_t i = 0; i < n; i++)
		if (!sv[i].done)
			say("%s: no answer in %.1f s", sv[i].name, (double)timeout_ms / 1000);
	return answered;
}

static void put_fact(const uint8_t self[ELK_KEY_LEN], const char *endpoint, unsigned ttl)
{
	json_t *rec = elk_record_new("fact");

	if (!rec)
		elk_die(ELK_EXIT_SYS, "out of memory");
	elk_set_key(rec, "subject", self);
	json_object_set_new(rec, "attribute", json_string("endpoint"));
	json_object_set_new(rec, "value", json_string(endpoint));
	json_object_set_new(rec, "ttl", json_integer(ttl));
	if (elk_write_record(stdout, rec) < 0 || fflush(stdout) == EOF)
		elk_die_sys("cannot write to stdout");
	json_decref(rec);
}

int main(int argc, char **argv)
{
	const char *cmd = NULL, *ifname = NULL, *timeout_o = NULL, *ttl_o = NULL, *every_o = NULL;
	const char *port_o = NULL, *self_o = NULL;
	struct server sv[MAX_SERVERS];
	size_t n = 0;
	char *env_list = NULL;
	uint8_t self[ELK_KEY_LEN];
	bool have_self = false;
	uint16_t sport = 0;

	elk_init(argv[0]);
	elk_std_opts(argc, argv, help);
	memset(sv, 0, sizeof(sv));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], **v = NULL;

		if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			quiet = true;
			continue;
		}
		if (!strcmp(a, "--server")) {
			if (i + 1 >= argc)
				elk_die_usage("--server needs a value");
			if (n == MAX_SERVERS)
				elk_die_usage("--server: at most %d", MAX_SERVERS);
			sv[n++].name = argv[++i];
			continue;
		}
		if (!strcmp(a, "--timeout"))
			v = &timeout_o;
		else if (!strcmp(a, "--ttl"))
			v = &ttl_o;
		else if (!strcmp(a, "--every"))
			v = &every_o;
		else if (!strcmp(a, "--port"))
			v = &port_o;
		else if (!strcmp(a, "--self"))
			v = &self_o;
		else if (a[0] == '-' && a[1])
			elk_die_usage("unknown option %s", a);
		else if (!cmd)
			cmd = a;
		else if (!ifname)
			ifname = a;
		else
			elk_die_usage("unexpected argument \"%.32s\"", a);
		if (v) {
			if (i + 1 >= argc)
				elk_die_usage("%s needs a value", a);
			*v = argv[++i];
		}
	}
	if (!cmd)
		elk_die_usage("give a subcommand: stun");
	if (strcmp(cmd, "stun"))
		elk_die_usage("unknown subcommand \"%.32s\" (stun)", cmd);
	if (!ifname)
		elk_die_usage("stun: give the WireGuard interface (el-punch stun IFACE)");
	if (!elk_ifname_valid(ifname))
		elk_die_usage("stun: \"%.32s\" is not an interface name", ifname);
	if (!n) {
		const char *l = elk_opt_env(NULL, "EL_PUNCH_SERVERS");
		char *save = NULL;

		if (l && (env_list = strdup(l)))
			for (char *t = strtok_r(env_list, " ,\t", &save); t && n < MAX_SERVERS;
			     t = strtok_r(NULL, " ,\t", &save))
				sv[n++].name = t;
	}
	if (!n)
		elk_die_usage("stun: give a STUN server (--server HOST[:PORT] or "
			      "EL_PUNCH_SERVERS): el-punch knows none of its own");
	double timeout = elk_opt_seconds_frac(timeout_o, "EL_PUNCH_TIMEOUT", "--timeout", 3, 0.1, 3600);
	unsigned ttl = elk_opt_seconds(ttl_o, "EL_PUNCH_TTL", "--ttl", 255, 1, 65535);
	unsigned every = elk_opt_seconds(every_o, "EL_PUNCH_EVERY", "--every", 0, 0, 86400);

	if (port_o) {
		unsigned long p;
		char *end;

		errno = 0;
		p = strtoul(port_o, &end, 10);
		if (errno || end == port_o || *end || !p || p > 65535)
			elk_die_usage("--port: \"%.32s\" is not a port (1..65535)", port_o);
		sport = (uint16_t)p;
	}
	if (self_o) {
		if (elk_key_from_base64(self, self_o))
			elk_die_usage("--self: not a public key (want 44 characters of base64)");
		have_self = true;
	}
	for (size_t i = 0; i < n; i++)
		resolve_server(&sv[i]);
	if (!sport || !have_self) {
		struct elk_device d = { 0 };
		struct elk_err e;
		int r = elk_facts_read_device(ifname, &d, &e);

		if (r < 0)
			elk_die(ELK_EXIT_SYS, "%s (--port and --self do without the device)", e.msg);
		if (!sport) {
			if (!d.listen_port)
				elk_die(ELK_EXIT_SYS, "%s: no listen port yet (give --port)", ifname);
			sport = d.listen_port;
		}
		if (!have_self) {
			if (!(d.flags & ELK_DEV_PRIVATE_KEY))
				elk_die(ELK_EXIT_SYS, "%s: its key cannot be read (give --self)",
					ifname);
			memcpy(self, d.public_key, ELK_KEY_LEN);
			have_self = true;
		}
		elk_device_clear(&d);
	}
	signal(SIGPIPE, SIG_IGN);
	filter_port = sport;

	/* What the last round announced, to withdraw what went away. */
	struct answer prev[MAX_SERVERS];
	size_t n_prev = 0;

	for (;;) {
		struct answer ans[MAX_SERVERS];
		size_t n_ans, answered = ask(sv, n, sport, (int64_t)(timeout * 1000), ans, &n_ans);

		if (n_ans > 1)
			say("servers see different ports: the NAT maps per destination, and peers "
			    "will likely not get through it");
		for (size_t j = 0; j < n_ans; j++)
			put_fact(self, ans[j].endpoint, ttl);
		/* A mapping that changed: the old endpoint with ttl 0, which
		 * el-facts gossip takes as "no longer announce this". Only
		 * when servers answered: silence proves nothing. */
		for (size_t i = 0; answered && i < n_prev; i++) {
			size_t j;

			for (j = 0; j < n_ans && strcmp(ans[j].endpoint, prev[i].endpoint); j++)
				;
			if (j == n_ans) {
				say("%s no longer: withdrawn", prev[i].endpoint);
				put_fact(self, prev[i].endpoint, 0);
			}
		}
		if (answered) {
			memcpy(prev, ans, n_ans * sizeof(ans[0]));
			n_prev = n_ans;
		}
		if (!every) {
			free(env_list);
			return answered ? ELK_EXIT_OK : ELK_EXIT_NO;
		}
		sleep(every);
	}
}
