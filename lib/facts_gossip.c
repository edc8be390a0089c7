/* facts_gossip.c - el-facts gossip: wirelink's fact exchange inside the
 * tunnel (wirelink's PROTOCOL.md, ../shared/FACTS-WIRE.md "Addressing",
 * "Signing", "Timing"; the behaviour in facts_gossip.h).
 *
 * One thread, one poll loop: a round every cycle (read the device, put
 * link-local addresses in place, send what each peer lacks), and in between
 * datagrams from peers and records from the input. Time for expiry is
 * CLOCK_MONOTONIC; handshake ages use the wall clock, as the device does.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "facts_gossip.h"
#include "kernel.h"
#include "rtnl.h"
#include "uapi.h"

/* A fact as identity: its bytes with ttl 0 (attribute, subject, value). */
struct fkey {
	size_t len;
	uint8_t *b;
};

/* What one peer was told: when its copy of a fact expires, when sent. */
struct sent {
	struct fkey k;
	int64_t sent_at, expires;
};

struct gpeer {
	uint8_t key[ELK_KEY_LEN];
	bool on_device;
	bool have_boot;
	uint8_t boot[ELK_FACT_BOOT_ID_LEN];
	struct sent *sent;
	size_t n_sent, cap_sent;
};

/* A fact from elsewhere: the input (announced until withdrawn) or a peer
 * (kept until its ttl runs out, passed on with --relay). */
struct held {
	struct elk_fact f;
	struct fkey k;
	int64_t expires; /* INT64_MAX for input facts */
};

struct gossip {
	const struct elk_facts_gossip_opts *o;
	uint8_t priv[ELK_KEY_LEN], pub[ELK_KEY_LEN];
	uint16_t port; /* the device's listen port; facts use port + 1 */
	int ifindex, sock;
	bool ready;
	struct gpeer *peers;
	size_t n_peers;
	struct held *mine, *heard;
	size_t n_mine, n_heard;
	char *ibuf;
	size_t ilen;
	unsigned long lineno;
	bool in_eof;
	int64_t next_round;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int64_t mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static int fkey_of(const struct elk_fact *f, struct fkey *k)
{
	static struct elk_fact z;
	uint8_t buf[ELK_FACTS_DGRAM_MAX];
	size_t n;

	z = *f;
	z.ttl = 0;
	if (elk_fact_put(&z, buf, sizeof(buf), &n, NULL) < 0)
		return -EINVAL;
	if (!(k->b = malloc(n)))
		return -ENOMEM;
	memcpy(k->b, buf, n);
	k->len = n;
	return 0;
}

static bool fkey_eq(const struct fkey *a, const struct fkey *b)
{
	return a->len == b->len && !memcmp(a->b, b->b, a->len);
}

static void peer_forget(struct gpeer *p)
{
	for (size_t i = 0; i < p->n_sent; i++)
		free(p->sent[i].k.b);
	p->n_sent = 0;
}

static void held_drop(struct held *v, size_t *n, size_t i)
{
	free(v[i].k.b);
	v[i] = v[--*n];
}

/* Adds or refreshes a held fact; ttl 0 withdraws it. */
static int held_put(struct held **v, size_t *n, const struct elk_fact *f, int64_t expires)
{
	struct fkey k;
	struct held *nv;
	int r;

	if ((r = fkey_of(f, &k)) < 0)
		return r;
	for (size_t i = 0; i < *n; i++) {
		if (!fkey_eq(&(*v)[i].k, &k))
			continue;
		free(k.b);
		if (!f->ttl) {
			held_drop(*v, n, i);
		} else {
			(*v)[i].f = *f;
			(*v)[i].expires = expires;
		}
		return 0;
	}
	if (!f->ttl) {
		free(k.b);
		return 0;
	}
	if (!(nv = realloc(*v, (*n + 1) * sizeof(*nv)))) {
		free(k.b);
		return -ENOMEM;
	}
	*v = nv;
	nv[*n] = (struct held){ .f = *f, .k = k, .expires = expires };
	++*n;
	return 0;
}

static struct gpeer *find_peer(struct gossip *g, const uint8_t key[ELK_KEY_LEN])
{
	for (size_t i = 0; i < g->n_peers; i++)
		if (elk_key_eq(g->peers[i].key, key))
			return &g->peers[i];
	return NULL;
}

static void sockaddr_ll(struct gossip *g, const uint8_t key[ELK_KEY_LEN], struct sockaddr_in6 *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin6_family = AF_INET6;
	sa->sin6_port = htons((uint16_t)(g->port + 1));
	sa->sin6_scope_id = (uint32_t)g->ifindex;
	elk_addr_ll_from_key(key, sa->sin6_addr.s6_addr);
}

/* First round: the key, our link-local address, the socket. */
static int setup(struct gossip *g, const struct elk_device *d, struct elk_err *e)
{
	const char *ifname = g->o->local.ifname;
	struct elk_cidr ll = { .family = AF_INET6, .len = 64 };
	struct sockaddr_in6 sa;
	struct elk_rtnl rt;
	int r, one = 1;

	if (g->o->private_key)
		memcpy(g->priv, g->o->private_key, ELK_KEY_LEN);
	else if (!elk_key_is_zero(d->private_key))
		memcpy(g->priv, d->private_key, ELK_KEY_LEN);
	else
		return elk_errf(e, "%s: the device has no private key (give --key)", ifname);
	if (elk_key_public(g->pub, g->priv) < 0)
		return elk_errf(e, "the private key is not a usable Curve25519 key");
	if (!d->listen_port)
		return elk_errf(e, "%s: the device has no listen port", ifname);
	g->port = d->listen_port;
	if (g->port == 65535)
		return elk_errf(e, "%s: listen port 65535 leaves no port + 1 for facts", ifname);
	if ((g->ifindex = elk_rtnl_ifindex(ifname)) <= 0)
		return elk_errf(e, "%s: no such interface", ifname), -ENODEV;
	elk_addr_ll_from_key(g->pub, ll.addr);
	if ((r = elk_rtnl_open(&rt)) < 0)
		return elk_errf(e, "rtnetlink: %s", strerror(-r)), r;
	r = elk_rtnl_addr(&rt, g->ifindex, &ll, true);
	elk_rtnl_close(&rt);
	if (r < 0 && r != -EEXIST)
		return elk_errf(e, "%s: cannot add our link-local address: %s", ifname, strerror(-r)),
		       r;
	g->sock = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (g->sock < 0)
		return r = -errno, elk_errf(e, "socket: %s", strerror(-r)), r;
	/* Bound to the device: facts must travel inside the tunnel only. */
	if (setsockopt(g->sock, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname)) < 0)
		return r = -errno, elk_errf(e, "%s: SO_BINDTODEVICE: %s", ifname, strerror(-r)), r;
	setsockopt(g->sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sockaddr_ll(g, g->pub, &sa);
	if (bind(g->sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		char a[INET6_ADDRSTRLEN];

		r = -errno;
		inet_ntop(AF_INET6, &sa.sin6_addr, a, sizeof(a));
		return elk_errf(e, "bind [%s%%%s]:%u: %s", a, ifname, g->port + 1, strerror(-r)), r;
	}
	g->ready = true;
	return 0;
}

/* Each peer's link-local /128 in its allowed IPs (added, never replacing). */
static int place_ll(struct gossip *g, const struct elk_device *d, struct elk_err *e)
{
	struct elk_device c = { 0 };
	struct elk_cidr *ips;
	size_t n = 0;
	int r = 0;

	if (!d->n_peers)
		return 0;
	c.peers = calloc(d->n_peers, sizeof(*c.peers));
	ips = calloc(d->n_peers, sizeof(*ips));
	if (!c.peers || !ips) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < d->n_peers; i++) {
		const struct elk_peer *p = &d->peers[i];
		struct elk_cidr ll = { .family = AF_INET6, .len = 128 };
		bool have = false;

		elk_addr_ll_from_key(p->public_key, ll.addr);
		for (size_t j = 0; j < p->n_allowed_ips && !have; j++)
			have = p->allowed_ips[j].family == AF_INET6 && p->allowed_ips[j].len == 128 &&
			       !memcmp(p->allowed_ips[j].addr, ll.addr, 16);
		if (have)
			continue;
		ips[n] = ll;
		/* UPDATE_ONLY: a peer removed meanwhile must stay removed. */
		c.peers[n].flags = ELK_PEER_ALLOWED_IPS | ELK_PEER_UPDATE_ONLY;
		memcpy(c.peers[n].public_key, p->public_key, ELK_KEY_LEN);
		c.peers[n].allowed_ips = &ips[n];
		c.peers[n].n_allowed_ips = 1;
		n++;
	}
	c.n_peers = n;
	if (n) {
		int fd = elk_uapi_connect(g->o->local.ifname);

		if (fd == -ENOENT) {
			r = elk_kernel_apply(g->o->local.ifname, &c, e);
		} else if (fd < 0) {
			r = fd;
			elk_errf(e, "%s: UAPI socket: %s", g->o->local.ifname, strerror(-r));
		} else {
			r = elk_uapi_set(fd, &c, e);
			close(fd);
		}
	}
out:
	free(ips);
	free(c.peers);
	if (r == -ENOMEM)
		elk_errf(e, "out of memory");
	return r;
}

/* Keeps one gpeer per device peer, in any order. */
static int sync_peers(struct gossip *g, const struct elk_device *d)
{
	for (size_t i = 0; i < g->n_peers; i++)
		g->peers[i].on_device = false;
	for (size_t i = 0; i < d->n_peers; i++) {
		struct gpeer *p = find_peer(g, d->peers[i].public_key), *nv;

		if (!p) {
			if (!(nv = realloc(g->peers, (g->n_peers + 1) * sizeof(*nv))))
				return -ENOMEM;
			g->peers = nv;
			p = &nv[g->n_peers++];
			*p = (struct gpeer){ 0 };
			memcpy(p->key, d->peers[i].public_key, ELK_KEY_LEN);
		}
		p->on_device = true;
	}
	for (size_t i = 0; i < g->n_peers;) {
		if (g->peers[i].on_device) {
			i++;
			continue;
		}
		peer_forget(&g->peers[i]);
		free(g->peers[i].sent);
		g->peers[i] = g->peers[--g->n_peers];
	}
	return 0;
}

static void send_group(struct gossip *g, struct gpeer *p, struct elk_facts_packer *pk)
{
	uint8_t d[ELK_FACTS_DGRAM_MAX];
	struct sockaddr_in6 sa;
	struct elk_err e;
	size_t n;

	if (!pk->len)
		return;
	if (elk_facts_group_seal(d, &n, g->priv, p->key, pk->inner, pk->len, &e) < 0) {
		elk_warn("cannot seal facts: %s", e.msg);
	} else {
		sockaddr_ll(g, p->key, &sa);
		/* Unreachable peers are the normal case (no endpoint yet, no
		 * session): the next round tries again. */
		if (sendto(g->sock, d, n, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
		    errno != EHOSTUNREACH && errno != ENETUNREACH && errno != ECONNREFUSED &&
		    errno != ENOKEY && errno != EAGAIN && errno != EADDRNOTAVAIL &&
		    errno != ENETDOWN)
			elk_warn("send to a peer: %s", strerror(errno));
	}
	elk_facts_packer_reset(pk);
}

static struct sent *sent_find(struct gpeer *p, const struct fkey *k)
{
	for (size_t i = 0; i < p->n_sent; i++)
		if (fkey_eq(&p->sent[i].k, k))
			return &p->sent[i];
	return NULL;
}

/* Decides, packs and records one fact for one peer. */
static int offer(struct gossip *g, struct gpeer *p, struct elk_facts_packer *pk,
		 const struct elk_fact *f, int64_t now)
{
	struct elk_err e;
	struct fkey k;
	struct sent *s;
	int r;

	if (elk_key_eq(f->subject, p->key) || !f->ttl)
		return 0; /* never tell a peer about itself */
	if ((r = fkey_of(f, &k)) < 0)
		return r == -EINVAL ? 0 : r;
	s = sent_find(p, &k);
	/* Re-send while the peer's copy still has TTL/2 + a cycle to live:
	 * one lost datagram then costs nothing. Alive goes at least every
	 * alive period, so a restart is noticed in time. */
	if (s && now < s->expires - (int64_t)(f->ttl / 2 + g->o->cycle) &&
	    !(f->attr == ELK_FACT_ALIVE && now - s->sent_at >= (int64_t)g->o->alive)) {
		free(k.b);
		return 0;
	}
	r = elk_facts_pack(pk, f, &e);
	if (r == -ENOSPC) {
		send_group(g, p, pk);
		r = elk_facts_pack(pk, f, &e);
	}
	if (r < 0) {
		free(k.b);
		return 0; /* a fact too big for any group: never sendable */
	}
	if (!s) {
		if (p->n_sent == p->cap_sent) {
			size_t cap = p->cap_sent ? 2 * p->cap_sent : 16;
			struct sent *nv = realloc(p->sent, cap * sizeof(*nv));

			if (!nv) {
				free(k.b);
				return -ENOMEM;
			}
			p->sent = nv;
			p->cap_sent = cap;
		}
		s = &p->sent[p->n_sent++];
		s->k = k;
	} else {
		free(k.b);
	}
	s->sent_at = now;
	s->expires = now + f->ttl;
	return 0;
}

static int round_(struct gossip *g, struct elk_err *e)
{
	struct elk_device d = { 0 };
	struct elk_facts_list local = { 0 };
	static struct elk_facts_packer pk;
	int64_t now = mono();
	int r;

	if ((r = elk_facts_read_device(g->o->local.ifname, &d, e)) < 0)
		return r;
	if (!g->ready && (r = setup(g, &d, e)) < 0)
		goto out;
	if ((r = place_ll(g, &d, e)) < 0)
		goto out;
	if ((r = sync_peers(g, &d)) < 0)
		goto nomem;
	/* The device answers with its own public key only when it has the
	 * private one; --key may differ, and our facts are about us. */
	memcpy(d.public_key, g->pub, ELK_KEY_LEN);
	if ((r = elk_facts_local(&d, &g->o->local, time(NULL), &local, e)) < 0)
		goto out;
	for (size_t i = 0; i < g->n_heard;)
		if (g->heard[i].expires <= now)
			held_drop(g->heard, &g->n_heard, i);
		else
			i++;
	for (size_t i = 0; i < d.n_peers; i++) {
		struct gpeer *p = find_peer(g, d.peers[i].public_key);

		if (!p || !d.peers[i].endpoint[0])
			continue; /* only peers that can be reached */
		for (size_t j = 0; j < p->n_sent;)
			if (p->sent[j].expires <= now) {
				free(p->sent[j].k.b);
				p->sent[j] = p->sent[--p->n_sent];
			} else {
				j++;
			}
		elk_facts_packer_reset(&pk);
		for (size_t j = 0; j < local.n; j++)
			if ((r = offer(g, p, &pk, &local.v[j], now)) < 0)
				goto nomem;
		for (size_t j = 0; j < g->n_mine; j++)
			if ((r = offer(g, p, &pk, &g->mine[j].f, now)) < 0)
				goto nomem;
		for (size_t j = 0; g->o->relay && j < g->n_heard; j++) {
			struct elk_fact f = g->heard[j].f;

			/* What is left of its life, not a fresh ttl: relaying
			 * must not keep a fact alive that its origin dropped. */
			f.ttl = (uint32_t)(g->heard[j].expires - now);
			if (elk_key_eq(f.subject, g->pub))
				continue;
			if ((r = offer(g, p, &pk, &f, now)) < 0)
				goto nomem;
		}
		send_group(g, p, &pk);
	}
	r = 0;
	goto out;
nomem:
	elk_errf(e, "out of memory");
out:
	elk_facts_list_free(&local);
	elk_device_clear(&d);
	return r;
}

static int receive(struct gossip *g, struct elk_err *e)
{
	uint8_t d[ELK_FACTS_DGRAM_MAX + 1];
	struct sockaddr_in6 sa;
	socklen_t sl = sizeof(sa);
	struct elk_facts_group grp;
	struct elk_facts_iter it;
	static struct elk_fact f;
	struct elk_err why;
	ssize_t n;
	int r;

	n = recvfrom(g->sock, d, sizeof(d), 0, (struct sockaddr *)&sa, &sl);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : (elk_warn("receive: %s", strerror(errno)), 0);
	if (sa.sin6_family != AF_INET6 || (size_t)n > ELK_FACTS_DGRAM_MAX)
		return 0;
	/* Who may say what is el-trust's business; here only that the group
	 * is what it claims to be: from its signer's address, sealed for us. */
	if (elk_facts_group_parse(d, (size_t)n, &grp, &why) < 0 ||
	    elk_facts_group_check_source(&grp, sa.sin6_addr.s6_addr, &why) < 0 ||
	    elk_facts_group_verify(&grp, g->priv, &why) < 0) {
		char a[INET6_ADDRSTRLEN];

		inet_ntop(AF_INET6, &sa.sin6_addr, a, sizeof(a));
		elk_warn("dropped a datagram from %s: %s", a, why.msg);
		return 0;
	}
	elk_facts_iter_init(&it, &grp);
	while ((r = elk_facts_iter_next(&it, &f, &why)) > 0) {
		json_t *rec = elk_fact_to_json(&f, grp.source);

		if (!rec)
			return elk_errf(e, "out of memory"), -ENOMEM;
		r = elk_write_record(g->o->out, rec);
		json_decref(rec);
		if (r < 0)
			return elk_errf(e, "cannot write received facts"), -EIO;
		if (f.attr == ELK_FACT_ALIVE && elk_key_eq(f.subject, grp.source)) {
			struct gpeer *p = find_peer(g, grp.source);

			/* A new boot id: the peer forgot everything we told it.
			 * The first one we hear counts as new too: what we sent
			 * before it listened was lost. */
			if (p && (!p->have_boot || memcmp(p->boot, f.v.boot_id, sizeof(p->boot)))) {
				peer_forget(p);
				g->next_round = 0;
				memcpy(p->boot, f.v.boot_id, sizeof(p->boot));
				p->have_boot = true;
			}
		}
		if (f.attr != ELK_FACT_ALIVE && f.ttl &&
		    held_put(&g->heard, &g->n_heard, &f, mono() + f.ttl) < 0)
			return elk_errf(e, "out of memory"), -ENOMEM;
	}
	if (r < 0)
		elk_warn("a group from a peer ends early: %s", why.msg);
	if (fflush(g->o->out) == EOF)
		return elk_errf(e, "cannot write received facts"), -EIO;
	return 0;
}

/* One line of the input: a fact to announce. Bad lines are reported and
 * skipped: a long-running daemon outlives a typo. */
static void input_line(struct gossip *g, const char *line, size_t len)
{
	static struct elk_fact f;
	struct elk_err e;
	const char *type;
	json_t *rec;

	g->lineno++;
	if (!len)
		return;
	if (elk_parse_record(line, len, &rec, &type, &e) < 0) {
		elk_warn("input line %lu: %s", g->lineno, e.msg);
		return;
	}
	if (strcmp(type, "fact")) {
		elk_warn("input line %lu: type: \"%.32s\" is not a fact record", g->lineno, type);
	} else if (elk_fact_from_json(rec, &f, &e) < 0) {
		elk_warn("input line %lu: %s", g->lineno, e.msg);
	} else if (held_put(&g->mine, &g->n_mine, &f, INT64_MAX) < 0) {
		elk_warn("input line %lu: out of memory", g->lineno);
	} else {
		g->next_round = 0; /* announce it now, not a cycle later */
	}
	json_decref(rec);
}

static void input(struct gossip *g)
{
	char *nl;
	ssize_t n;

	if (!g->ibuf && !(g->ibuf = malloc(ELK_LINE_MAX + 1))) {
		g->in_eof = true;
		return;
	}
	n = read(g->o->in_fd, g->ibuf + g->ilen, ELK_LINE_MAX - g->ilen);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (g->ilen)
			input_line(g, g->ibuf, g->ilen);
		g->ilen = 0;
		g->in_eof = true;
		return;
	}
	g->ilen += (size_t)n;
	while ((nl = memchr(g->ibuf, '\n', g->ilen))) {
		size_t l = (size_t)(nl - g->ibuf);

		input_line(g, g->ibuf, l);
		memmove(g->ibuf, nl + 1, g->ilen - l - 1);
		g->ilen -= l + 1;
	}
	if (g->ilen == ELK_LINE_MAX) {
		elk_warn("input line %lu: longer than %d bytes, skipped", g->lineno + 1,
			 ELK_LINE_MAX);
		g->ilen = 0;
	}
}

int elk_facts_gossip(const struct elk_facts_gossip_opts *o, struct elk_err *e)
{
	static struct gossip g;
	struct sigaction sa = { .sa_handler = on_signal };
	int r = 0;

	g = (struct gossip){ .o = o, .sock = -1 };
	g.in_eof = o->in_fd < 0;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!stop) {
		struct pollfd pf[2];
		int64_t now = mono(), wait;
		nfds_t n = 0;

		if (now >= g.next_round) {
			if ((r = round_(&g, e)) < 0)
				break;
			g.next_round = now + o->cycle;
		}
		wait = (g.next_round - now) * 1000;
		if (wait < 0)
			wait = 0;
		if (wait > (int64_t)o->cycle * 1000)
			wait = (int64_t)o->cycle * 1000;
		pf[n++] = (struct pollfd){ .fd = g.sock, .events = POLLIN };
		if (!g.in_eof)
			pf[n++] = (struct pollfd){ .fd = o->in_fd, .events = POLLIN };
		if (poll(pf, n, (int)wait) < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			elk_errf(e, "poll: %s", strerror(-r));
			break;
		}
		if (pf[0].revents & POLLIN && (r = receive(&g, e)) < 0)
			break;
		if (n > 1 && pf[1].revents & (POLLIN | POLLHUP | POLLERR))
			input(&g);
	}
	if (g.sock >= 0)
		close(g.sock);
	for (size_t i = 0; i < g.n_peers; i++) {
		peer_forget(&g.peers[i]);
		free(g.peers[i].sent);
	}
	free(g.peers);
	while (g.n_mine)
		held_drop(g.mine, &g.n_mine, 0);
	while (g.n_heard)
		held_drop(g.heard, &g.n_heard, 0);
	free(g.mine);
	free(g.heard);
	free(g.ibuf);
	sodium_memzero(g.priv, sizeof(g.priv));
	return r;
}
