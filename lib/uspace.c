/* uspace.c - the userspace WireGuard device's event loop (see uspace.h).
 *
 * One thread, one epoll set: the TUN fd, a UDP socket per address family
 * bound to the listen port, the UAPI listening socket and its clients,
 * stdin (records), and a signalfd. Timers need no fd: epoll_wait sleeps
 * until the device's next deadline (at most a second, so a removed socket
 * file is noticed).
 *
 * UDP goes in batches: recvmmsg takes up to RX_BATCH datagrams per call,
 * and datagrams to the network are queued (TX_BATCH slots) and leave with
 * one sendmmsg when the queue is full or the loop is about to sleep, so a
 * burst of TUN packets costs one send syscall, not one each; runs of
 * equal-sized datagrams to one peer go as one UDP GSO message. The TUN side
 * is one packet per read/write (no offloads yet).
 */
#include "uspace.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "records.h"
#include "rtnl.h"
#include "tun.h"
#include "uapi.h"

#define MAX_CLIENTS 16
#define CLIENT_MAX_REQUEST (1u << 20) /* a set for thousands of peers */
#define BURST 64                      /* packets per wakeup per fd */
#define PKT_MAX 65535
#define RX_BATCH 16                   /* datagrams per recvmmsg */
#define TX_BATCH 64                   /* datagrams per sendmmsg */
#define TX_SLOT 2048                  /* a queued datagram; larger ones go alone */

/* Datagrams waiting for one sendmmsg, all on one socket. Runs of equal-
 * sized datagrams to one address (a TCP stream's full segments) go as one
 * message with UDP GSO (UDP_SEGMENT): the kernel cuts them, and the stack
 * is walked once per run, not once per datagram. */
#define GSO_MAX 64       /* datagrams per GSO message (the kernel's limit) */
#define GSO_BYTES 65000  /* bytes per GSO message */
struct txq {
	int fd;
	unsigned n;
	bool no_gso;     /* the kernel refused it once: never again */
	struct mmsghdr msg[TX_BATCH];
	struct iovec iov[TX_BATCH];
	struct sockaddr_storage addr[TX_BATCH];
	uint8_t buf[TX_BATCH][TX_SLOT];
	/* the messages sendmmsg gets: a datagram, or a GSO run */
	struct mmsghdr unit[TX_BATCH];
	unsigned first[TX_BATCH], count[TX_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl[TX_BATCH];
};

/* recvmmsg's buffers: any datagram up to the UDP maximum fits. */
struct rxq {
	struct mmsghdr msg[RX_BATCH];
	struct iovec iov[RX_BATCH];
	struct sockaddr_storage addr[RX_BATCH];
	uint8_t buf[RX_BATCH][PKT_MAX];
};

struct client {
	int fd;
	char *buf;
	size_t len, cap;
};

struct uspace {
	const struct elk_uspace_opts *o;
	int ifindex;
	int tun, udp4, udp6, uapi, sig, ep;
	int in_fd; /* stdin while records may still come, else -1 */
	char sockpath[108];
	ino_t sock_ino;
	uint16_t port;
	uint32_t fwmark;
	struct elk_wg_dev *dev;
	struct elk_rtnl rtnl;
	struct client clients[MAX_CLIENTS];
	/* stdin line assembly */
	char *inbuf;
	size_t inlen;
	unsigned long lineno;
	bool stop;
	unsigned rejected; /* records refused */
	uint8_t pkt[PKT_MAX + ELK_WG_OVERHEAD], out[PKT_MAX + ELK_WG_OVERHEAD];
	struct txq *tx;
	struct rxq *rx;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int ep_add(struct uspace *u, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(u->ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* ---- UDP ------------------------------------------------------------ */

static int udp_bind(int family, uint16_t port, uint32_t fwmark)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1, err;
	struct sockaddr_storage ss = { 0 };
	socklen_t len;

	if (fd < 0)
		return -errno;
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		len = sizeof(*s4);
	}
	if (fwmark && setsockopt(fd, SOL_SOCKET, SO_MARK, &fwmark, sizeof(fwmark)) < 0)
		goto fail;
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		goto fail;
	return fd;
fail:
	err = -errno;
	close(fd);
	return err;
}

static uint16_t bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* Binds both families to port (0: any, then the v6 socket takes the same
 * one). IPv6 may be missing (disabled in a namespace): then v4 only. */
static int udp_open(uint16_t port, uint32_t fwmark, int *v4, int *v6, uint16_t *actual)
{
	int a = udp_bind(AF_INET, port, fwmark), b;

	if (a < 0)
		return a;
	*actual = bound_port(a);
	b = udp_bind(AF_INET6, *actual, fwmark);
	if (b < 0 && b != -EAFNOSUPPORT && b != -EADDRNOTAVAIL) {
		close(a);
		return b;
	}
	*v4 = a;
	*v6 = b < 0 ? -1 : b;
	return 0;
}

static void udp_close(struct uspace *u)
{
	if (u->udp4 >= 0)
		close(u->udp4);
	if (u->udp6 >= 0)
		close(u->udp6);
	u->udp4 = u->udp6 = -1;
}

/* Sends msgs one datagram each. A datagram the kernel refuses (no route, a
 * full buffer) is dropped, as WireGuard's normal loss, and the rest go. */
static void send_each(int fd, struct mmsghdr *msgs, unsigned n)
{
	unsigned i = 0;

	while (i < n) {
		int r = sendmmsg(fd, msgs + i, n - i, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			i++; /* the one that failed */
		} else {
			i += (unsigned)r;
		}
	}
}

static bool same_dest(const struct txq *q, unsigned a, unsigned b)
{
	return q->msg[a].msg_hdr.msg_namelen == q->msg[b].msg_hdr.msg_namelen &&
	       !memcmp(&q->addr[a], &q->addr[b], q->msg[a].msg_hdr.msg_namelen);
}

/* Groups the queue into units: runs of datagrams to one address, all of
 * one size but the last, which may be shorter, as UDP GSO wants. */
static unsigned tx_units(struct txq *q)
{
	unsigned nu = 0;

	for (unsigned i = 0; i < q->n;) {
		size_t size = q->iov[i].iov_len, total = size;
		unsigned j = i + 1;

		while (!q->no_gso && j < q->n && j - i < GSO_MAX && same_dest(q, i, j) &&
		       q->iov[j].iov_len <= size && total + q->iov[j].iov_len <= GSO_BYTES) {
			total += q->iov[j].iov_len;
			if (q->iov[j++].iov_len < size)
				break; /* a shorter one ends the run */
		}
		struct msghdr *h = &q->unit[nu].msg_hdr;

		*h = q->msg[i].msg_hdr;
		h->msg_iov = &q->iov[i];
		h->msg_iovlen = j - i;
		if (j - i > 1) {
			struct cmsghdr *c;
			uint16_t seg = (uint16_t)size;

			h->msg_control = q->ctl[nu].buf;
			h->msg_controllen = sizeof(q->ctl[nu].buf);
			c = CMSG_FIRSTHDR(h);
			c->cmsg_level = SOL_UDP;
			c->cmsg_type = UDP_SEGMENT;
			c->cmsg_len = CMSG_LEN(sizeof(seg));
			memcpy(CMSG_DATA(c), &seg, sizeof(seg));
		}
		q->first[nu] = i;
		q->count[nu++] = j - i;
		i = j;
	}
	return nu;
}

/* Sends what is queued: GSO runs where the kernel takes them. */
static void tx_flush(struct uspace *u)
{
	struct txq *q = u->tx;
	unsigned nu = tx_units(q), i = 0;

	while (i < nu) {
		int r = sendmmsg(q->fd, q->unit + i, nu - i, 0);

		if (r > 0) {
			i += (unsigned)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		/* This unit failed. A GSO run the kernel cannot do (old
		 * kernel, a device without it): never try again, send its
		 * datagrams one by one. Anything else: drop it. */
		if (q->count[i] > 1 && (errno == EIO || errno == EINVAL || errno == EOPNOTSUPP ||
					errno == ENOPROTOOPT)) {
			q->no_gso = true;
			send_each(q->fd, q->msg + q->first[i], q->count[i]);
		}
		i++;
	}
	q->n = 0;
}

static void send_net(struct uspace *u, const struct elk_wg_result *r, const uint8_t *buf)
{
	int fd = r->addr.ss_family == AF_INET6 ? u->udp6 : u->udp4;
	struct txq *q = u->tx;

	if (fd < 0)
		return;
	if (q->n && q->fd != fd)
		tx_flush(u);
	if (r->len > TX_SLOT) {
		/* Rare (an MTU above the slot): alone, after what is queued. */
		tx_flush(u);
		(void)!sendto(fd, buf, r->len, 0, (const struct sockaddr *)&r->addr, r->addrlen);
		return;
	}
	unsigned i = q->n++;

	q->fd = fd;
	memcpy(q->buf[i], buf, r->len);
	memcpy(&q->addr[i], &r->addr, r->addrlen);
	q->iov[i] = (struct iovec){ .iov_base = q->buf[i], .iov_len = r->len };
	q->msg[i].msg_hdr = (struct msghdr){ .msg_name = &q->addr[i], .msg_namelen = r->addrlen,
					     .msg_iov = &q->iov[i], .msg_iovlen = 1 };
	if (q->n == TX_BATCH)
		tx_flush(u);
}

/* Carries out a result, then everything the device queued behind it. */
static void drain(struct uspace *u, struct elk_wg_result r, uint64_t now)
{
	for (;;) {
		if (r.op == ELK_WG_TO_NETWORK)
			send_net(u, &r, u->out);
		else if (r.op == ELK_WG_TO_TUNNEL)
			(void)!write(u->tun, u->out, r.len);
		else
			return;
		r = elk_wg_dev_poll(u->dev, u->out, sizeof(u->out), now);
	}
}

static void on_udp(struct uspace *u, int fd)
{
	struct rxq *q = u->rx;

	for (int got = 0; got < BURST;) {
		int n;

		for (int i = 0; i < RX_BATCH; i++) {
			q->iov[i] = (struct iovec){ .iov_base = q->buf[i], .iov_len = PKT_MAX };
			q->msg[i].msg_hdr = (struct msghdr){ .msg_name = &q->addr[i],
							     .msg_namelen = sizeof(q->addr[i]),
							     .msg_iov = &q->iov[i],
							     .msg_iovlen = 1 };
		}
		n = recvmmsg(fd, q->msg, RX_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (int i = 0; i < n; i++) {
			uint64_t now = mono_ns();

			drain(u, elk_wg_dev_decapsulate(u->dev, (struct sockaddr *)&q->addr[i],
							q->msg[i].msg_hdr.msg_namelen, q->buf[i],
							q->msg[i].msg_len, u->out, sizeof(u->out),
							now),
			      now);
		}
		got += n;
		if (n < RX_BATCH)
			return;
	}
}

static void on_tun(struct uspace *u)
{
	for (int i = 0; i < BURST; i++) {
		ssize_t n = read(u->tun, u->pkt, PKT_MAX);
		uint64_t now;

		if (n <= 0)
			return;
		now = mono_ns();
		drain(u, elk_wg_dev_encapsulate(u->dev, u->pkt, (size_t)n, u->out, sizeof(u->out),
						now), now);
	}
}

/* ---- configuration -------------------------------------------------- */

/* Applies a change set from any source. Endpoint names are resolved and
 * a new listen port is bound before the device changes, so a failure
 * leaves everything as it was. ip: also addresses, MTU and routes (records;
 * UAPI clients such as wg-quick do their own). */
static int apply(struct uspace *u, struct elk_device *c, bool ip, struct elk_err *e)
{
	int v4 = -1, v6 = -1, r;
	uint16_t port = u->port;
	uint32_t mark = (c->flags & ELK_DEV_FWMARK) ? c->fwmark : u->fwmark;
	char ebuf[ELK_ENDPOINT_MAX];
	char rerr[256];
	struct elk_device before = { 0 };

	for (size_t i = 0; i < c->n_peers; i++) {
		struct elk_peer *p = &c->peers[i];

		if (!(p->flags & ELK_PEER_ENDPOINT))
			continue;
		if ((r = elk_endpoint_resolve(p->endpoint, ebuf, sizeof(ebuf))))
			return elk_errf(e, "endpoint: \"%.64s\" does not resolve", p->endpoint), r;
		strcpy(p->endpoint, ebuf);
	}
	if (((c->flags & ELK_DEV_LISTEN_PORT) && c->listen_port != u->port) ||
	    mark != u->fwmark) {
		uint16_t want = (c->flags & ELK_DEV_LISTEN_PORT) ? c->listen_port : u->port;

		if (want == u->port && want != 0) {
			/* Same port, new mark: set it on the sockets we have. */
			if (u->udp4 >= 0)
				setsockopt(u->udp4, SOL_SOCKET, SO_MARK, &mark, sizeof(mark));
			if (u->udp6 >= 0)
				setsockopt(u->udp6, SOL_SOCKET, SO_MARK, &mark, sizeof(mark));
		} else if ((r = udp_open(want, mark, &v4, &v6, &port))) {
			return elk_errf(e, "listen_port: cannot bind UDP port %u: %s", want,
					strerror(-r)), r;
		}
	}
	if ((ip && (r = elk_wg_dev_snapshot(u->dev, &before, NULL))) ||
	    (r = elk_wg_dev_configure(u->dev, c, mono_ns(), e))) {
		if (r == -ENOMEM)
			elk_errf(e, "out of memory");
		elk_device_clear(&before);
		if (v4 >= 0)
			close(v4);
		if (v6 >= 0)
			close(v6);
		return r;
	}
	u->fwmark = mark;
	if (v4 >= 0) {
		udp_close(u);
		u->udp4 = v4;
		u->udp6 = v6;
		u->port = port;
		ep_add(u, v4);
		if (v6 >= 0)
			ep_add(u, v6);
	}
	if (ip) {
		struct elk_device after = { 0 };

		/* Routes of allowed IPs no peer has any more go too. */
		if (elk_wg_dev_snapshot(u->dev, &after, NULL) == 0)
			elk_rtnl_drop_stale_routes(&u->rtnl, u->ifindex, &before, &after);
		elk_device_clear(&after);
		elk_device_clear(&before);
		if ((r = elk_rtnl_apply_device(&u->rtnl, u->ifindex, c, false, rerr, sizeof(rerr))))
			return elk_errf(e, "%s", rerr), r;
	}
	return 0;
}

static void on_stdin(struct uspace *u)
{
	char chunk[8192];
	ssize_t n = read(u->in_fd, chunk, sizeof(chunk));

	if (n <= 0) {
		if (n < 0 && errno == EAGAIN)
			return;
		/* End of configuration, not of the link. */
		epoll_ctl(u->ep, EPOLL_CTL_DEL, u->in_fd, NULL);
		u->in_fd = -1;
		if (u->inlen)
			chunk[0] = '\n', n = 1;
		else
			return;
	}
	for (ssize_t i = 0; i < n; i++) {
		struct elk_device c = { 0 };
		struct elk_err e;
		json_t *rec;
		const char *type;
		int r;

		if (chunk[i] != '\n') {
			if (u->inlen < ELK_LINE_MAX)
				u->inbuf[u->inlen] = chunk[i];
			u->inlen++;
			continue;
		}
		u->lineno++;
		if (u->inlen > ELK_LINE_MAX) {
			elk_warn("line %lu: line longer than %d bytes; not applied", u->lineno,
				 ELK_LINE_MAX);
			u->inlen = 0;
			u->rejected++;
			continue;
		}
		if (strspn(u->inbuf, " \t\r") >= u->inlen) {
			u->inlen = 0;
			continue;
		}
		r = elk_parse_record(u->inbuf, u->inlen, &rec, &type, &e);
		sodium_memzero(u->inbuf, u->inlen);
		u->inlen = 0;
		if (r < 0) {
			elk_warn("line %lu: %s; not applied", u->lineno, e.msg);
			u->rejected++;
			continue;
		}
		if (!strcmp(type, "iface")) {
			json_object_del(rec, "name"); /* the command line names it */
			r = elk_device_apply_iface(&c, rec, &e);
		} else if (!strcmp(type, "peer")) {
			r = elk_device_apply_peer(&c, rec, &e);
		} else {
			r = 0; /* other types are not for us */
		}
		json_decref(rec);
		if (r == 0 && (c.flags || c.n_peers))
			r = apply(u, &c, true, &e);
		if (r) {
			elk_warn("line %lu: %s; not applied", u->lineno, e.msg);
			u->rejected++;
		} else if (u->o->verbose && (c.flags || c.n_peers))
			elk_warn("line %lu: applied", u->lineno);
		elk_device_clear(&c);
	}
}

/* ---- UAPI ----------------------------------------------------------- */

static void client_close(struct uspace *u, struct client *c)
{
	epoll_ctl(u->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->buf) {
		sodium_memzero(c->buf, c->cap);
		free(c->buf);
	}
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static void reply(int fd, const char *s, size_t n)
{
	/* The client waits for the whole answer; a short blocking write is
	 * acceptable here (answers are small). */
	int fl = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	while (n) {
		ssize_t w = write(fd, s, n);

		if (w <= 0 && errno != EINTR)
			break;
		if (w > 0) {
			s += w;
			n -= (size_t)w;
		}
	}
	fcntl(fd, F_SETFL, fl);
}

/* Handles one complete request (without its closing empty line). Returns
 * false when the connection must close (an unknown operation). */
static bool uapi_request(struct uspace *u, int fd, char *req, size_t len)
{
	char *ans = NULL, *nl = memchr(req, '\n', len);
	size_t alen = 0, first = nl ? (size_t)(nl - req) : len;
	FILE *f;
	int err = 0;

	if (first == 5 && !memcmp(req, "get=1", 5)) {
		struct elk_device d = { 0 };
		int64_t *nsec = NULL;

		f = open_memstream(&ans, &alen);
		if (!f)
			return false;
		if ((err = elk_wg_dev_snapshot(u->dev, &d, &nsec)) == 0) {
			d.listen_port = u->port;
			d.fwmark = u->fwmark;
			err = elk_uapi_format_get(f, &d, nsec);
		}
		fprintf(f, "errno=%d\n\n", err);
		fclose(f);
		free(nsec);
		elk_device_clear(&d);
	} else if (first == 5 && !memcmp(req, "set=1", 5)) {
		struct elk_device c = { 0 };
		struct elk_err e;
		size_t off = nl ? first + 1 : len;

		err = elk_uapi_parse_set(req + off, len - off, &c, &e);
		if (err == 0)
			err = apply(u, &c, false, &e);
		if (err && u->o->verbose)
			elk_warn("uapi set refused: %s", e.msg);
		elk_device_clear(&c);
		if (asprintf(&ans, "errno=%d\n\n", err) < 0)
			return false;
		alen = strlen(ans);
	} else {
		return false;
	}
	reply(fd, ans, alen);
	sodium_memzero(ans, alen);
	free(ans);
	return true;
}

static void on_client(struct uspace *u, struct client *c)
{
	char chunk[4096];
	ssize_t n = read(c->fd, chunk, sizeof(chunk));

	if (n <= 0) {
		if (n < 0 && errno == EAGAIN)
			return;
		client_close(u, c);
		return;
	}
	if (c->len + (size_t)n + 1 > c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8192;
		char *g;

		while (cap < c->len + (size_t)n + 1)
			cap *= 2;
		if (cap > CLIENT_MAX_REQUEST || !(g = malloc(cap))) {
			client_close(u, c);
			return;
		}
		if (c->buf) {
			memcpy(g, c->buf, c->len);
			sodium_memzero(c->buf, c->cap);
			free(c->buf);
		}
		c->buf = g;
		c->cap = cap;
	}
	memcpy(c->buf + c->len, chunk, (size_t)n);
	c->len += (size_t)n;
	sodium_memzero(chunk, sizeof(chunk));
	for (;;) {
		char *end = NULL;
		size_t reqlen;

		for (size_t i = 0; i + 1 < c->len; i++) {
			if (c->buf[i] == '\n' && c->buf[i + 1] == '\n') {
				end = c->buf + i;
				break;
			}
		}
		if (!end)
			return;
		reqlen = (size_t)(end - c->buf);
		if (!uapi_request(u, c->fd, c->buf, reqlen)) {
			client_close(u, c);
			return;
		}
		memmove(c->buf, end + 2, c->len - reqlen - 2);
		c->len -= reqlen + 2;
	}
}

static void on_accept(struct uspace *u)
{
	int fd = accept4(u->uapi, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	for (int i = 0; i < MAX_CLIENTS; i++) {
		if (u->clients[i].fd < 0) {
			u->clients[i].fd = fd;
			ep_add(u, fd);
			return;
		}
	}
	close(fd); /* too many at once; wg retries */
}

static int uapi_listen(struct uspace *u)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int fd, probe;

	if (elk_uapi_sock_path(sun.sun_path, sizeof(sun.sun_path), u->o->ifname))
		return -ENAMETOOLONG;
	strcpy(u->sockpath, sun.sun_path);
	if (mkdir(ELK_UAPI_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	probe = elk_uapi_connect(u->o->ifname);
	if (probe >= 0) {
		close(probe);
		return -EADDRINUSE;
	}
	unlink(sun.sun_path); /* stale: nobody answers on it */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	old = umask(077);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, 16) < 0) {
		int err = -errno;

		umask(old);
		close(fd);
		return err;
	}
	umask(old);
	if (stat(sun.sun_path, &st) == 0)
		u->sock_ino = st.st_ino;
	u->uapi = fd;
	return 0;
}

/* The socket file is our handle: removing it stops the device. */
static bool sock_gone(struct uspace *u)
{
	struct stat st;

	return stat(u->sockpath, &st) < 0 || st.st_ino != u->sock_ino;
}

/* ---- main loop ------------------------------------------------------ */

static int setup(struct uspace *u)
{
	const struct elk_uspace_opts *o = u->o;
	sigset_t set;
	int r;

	if (!(u->dev = elk_wg_dev_new(&o->dev)) || !(u->tx = calloc(1, sizeof(*u->tx))) ||
	    !(u->rx = malloc(sizeof(*u->rx))))
		return elk_warn("out of memory"), ELK_EXIT_SYS;
	elk_wg_dev_set_wall_clock(u->dev, wall_ns(), mono_ns());
	if ((r = uapi_listen(u))) {
		if (r == -EADDRINUSE)
			elk_warn("%s: a device of that name is already running (%s answers)",
				 o->ifname, u->sockpath);
		else
			elk_warn("cannot serve %s/%s.sock: %s", ELK_UAPI_DIR, o->ifname, strerror(-r));
		u->sockpath[0] = 0;
		return ELK_EXIT_SYS;
	}
	if ((u->tun = elk_tun_open(o->ifname)) < 0) {
		elk_warn("cannot create TUN interface %s: %s%s", o->ifname, strerror(-u->tun),
			 u->tun == -EPERM ? " (needs CAP_NET_ADMIN)" : "");
		return ELK_EXIT_SYS;
	}
	u->ifindex = elk_rtnl_ifindex(o->ifname);
	if ((r = elk_rtnl_open(&u->rtnl)) ||
	    /* IPv6 may be off in this namespace: then there is nothing to turn off. */
	    ((r = elk_rtnl_link_no_addrgen(&u->rtnl, u->ifindex)) && r != -EAFNOSUPPORT) ||
	    (r = elk_rtnl_link_set(&u->rtnl, u->ifindex, true, ELK_MTU_DEFAULT))) {
		elk_warn("cannot bring %s up: %s", o->ifname, strerror(-r));
		return ELK_EXIT_SYS;
	}
	if ((r = udp_open(0, 0, &u->udp4, &u->udp6, &u->port))) {
		elk_warn("cannot open a UDP socket: %s", strerror(-r));
		return ELK_EXIT_SYS;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	u->sig = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	u->ep = epoll_create1(EPOLL_CLOEXEC);
	if (u->sig < 0 || u->ep < 0)
		return elk_warn("epoll/signalfd: %s", strerror(errno)), ELK_EXIT_SYS;
	ep_add(u, u->tun);
	ep_add(u, u->udp4);
	if (u->udp6 >= 0)
		ep_add(u, u->udp6);
	ep_add(u, u->uapi);
	ep_add(u, u->sig);
	return 0;
}

static void loop(struct uspace *u)
{
	struct epoll_event evs[32];
	uint64_t last_check = 0;

	while (!u->stop) {
		uint64_t now = mono_ns(), next = elk_wg_dev_next_deadline(u->dev);
		int timeout = 1000, n;

		if (next <= now)
			timeout = 0;
		else if (next - now < 1000000000ull)
			timeout = (int)((next - now + 999999) / 1000000);
		n = epoll_wait(u->ep, evs, 32, timeout);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == u->tun)
				on_tun(u);
			else if (fd == u->udp4 || fd == u->udp6)
				on_udp(u, fd);
			else if (fd == u->uapi)
				on_accept(u);
			else if (fd == u->sig)
				u->stop = true;
			else if (fd == u->in_fd)
				on_stdin(u);
			else
				for (int c = 0; c < MAX_CLIENTS; c++)
					if (u->clients[c].fd == fd)
						on_client(u, &u->clients[c]);
		}
		now = mono_ns();
		if (elk_wg_dev_next_deadline(u->dev) <= now)
			drain(u, elk_wg_dev_tick(u->dev, u->out, sizeof(u->out), now), now);
		/* Before sleeping: nothing waits in the queue. */
		if (u->tx->n)
			tx_flush(u);
		if (now - last_check >= 1000000000ull) {
			last_check = now;
			elk_wg_dev_set_wall_clock(u->dev, wall_ns(), now);
			if (sock_gone(u)) {
				u->sockpath[0] = 0; /* not ours to remove any more */
				u->stop = true;
			}
		}
	}
}

static void teardown(struct uspace *u)
{
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (u->clients[i].fd >= 0)
			client_close(u, &u->clients[i]);
	if (u->sockpath[0] && !sock_gone(u))
		unlink(u->sockpath);
	if (u->uapi >= 0)
		close(u->uapi);
	udp_close(u);
	if (u->tun >= 0)
		close(u->tun); /* deletes the interface */
	if (u->ep >= 0)
		close(u->ep);
	if (u->sig >= 0)
		close(u->sig);
	elk_rtnl_close(&u->rtnl);
	if (u->dev)
		elk_wg_dev_free(u->dev);
	free(u->tx);
	free(u->rx);
	if (u->inbuf) {
		sodium_memzero(u->inbuf, ELK_LINE_MAX + 1);
		free(u->inbuf);
	}
}

int elk_uspace_run(const struct elk_uspace_opts *o)
{
	struct uspace *u = calloc(1, sizeof(*u));
	int code, ready[2] = { -1, -1 };

	if (!u)
		return ELK_EXIT_SYS;
	u->o = o;
	u->tun = u->udp4 = u->udp6 = u->uapi = u->sig = u->ep = u->in_fd = -1;
	for (int i = 0; i < MAX_CLIENTS; i++)
		u->clients[i].fd = -1;
	if (o->daemonize) {
		pid_t pid;
		char c = (char)ELK_EXIT_SYS;

		if (pipe2(ready, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
			elk_warn("cannot fork: %s", strerror(errno));
			free(u);
			return ELK_EXIT_SYS;
		}
		if (pid > 0) {
			/* The parent returns when the device serves, with
			 * the child's setup result. */
			close(ready[1]);
			if (read(ready[0], &c, 1) != 1)
				c = (char)ELK_EXIT_SYS;
			free(u);
			return (unsigned char)c;
		}
		close(ready[0]);
		setsid();
	}
	code = setup(u);
	if (code == 0 && o->read_stdin) {
		u->in_fd = STDIN_FILENO;
		if (!(u->inbuf = malloc(ELK_LINE_MAX + 1))) {
			code = ELK_EXIT_SYS;
		} else if (o->daemonize || ep_add(u, u->in_fd)) {
			/* A daemon is configured before its parent returns;
			 * and a regular file or /dev/null cannot be polled.
			 * Either way: read it whole now. */
			while (u->in_fd >= 0)
				on_stdin(u);
			if (o->daemonize && u->rejected)
				code = ELK_EXIT_USAGE;
		} else {
			fcntl(u->in_fd, F_SETFL, fcntl(u->in_fd, F_GETFL) | O_NONBLOCK);
		}
	}
	if (o->daemonize) {
		char c = (char)code;
		int null = open("/dev/null", O_RDWR);

		(void)!write(ready[1], &c, 1);
		close(ready[1]);
		if (null >= 0) {
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
			close(null);
		}
	}
	if (code == 0) {
		if (o->verbose)
			elk_warn("%s: up, UDP port %u, UAPI %s", o->ifname, u->port, u->sockpath);
		loop(u);
	}
	teardown(u);
	free(u);
	return code;
}
