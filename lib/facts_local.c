/* facts_local.c - this node's facts, gathered from the device and the
 * interfaces (wirelink's local facts; ../shared/FACTS-WIRE.md, el-facts(1),
 * the rules in facts_local.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fnmatch.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "facts_local.h"
#include "kernel.h"
#include "rtnl.h"
#include "uapi.h"

int elk_facts_list_add(struct elk_facts_list *l, const struct elk_fact *f)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct elk_fact *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *f;
	return 0;
}

void elk_facts_list_free(struct elk_facts_list *l)
{
	free(l->v);
	*l = (struct elk_facts_list){ 0 };
}

int elk_facts_read_device(const char *ifname, struct elk_device *d, struct elk_err *e)
{
	int fd = elk_uapi_connect(ifname), r;

	/* A userspace device answers on its socket; without one, ask the
	 * kernel (which says -ENODEV when there is no such link either). */
	if (fd == -ENOENT)
		return elk_kernel_show(ifname, d, e);
	if (fd < 0)
		return elk_errf(e, "%s: cannot reach its UAPI socket: %s", ifname, strerror(-fd)),
		       fd;
	r = elk_uapi_get(fd, d, e);
	close(fd);
	return r;
}

int elk_facts_endpoint(struct elk_fact *f, const uint8_t subject[ELK_KEY_LEN],
		       const char *endpoint, uint32_t ttl)
{
	char host[ELK_ENDPOINT_MAX];
	uint16_t port;
	uint8_t a[16];

	if (elk_endpoint_split(endpoint, host, sizeof(host), &port) < 0)
		return -EINVAL;
	memset(f, 0, sizeof(*f));
	memcpy(f->subject, subject, ELK_KEY_LEN);
	f->ttl = ttl;
	f->v.endpoint.port = port;
	if (inet_pton(AF_INET, host, a) == 1) {
		f->attr = ELK_FACT_ENDPOINT_V4;
		memcpy(f->v.endpoint.addr, a, 4);
	} else if (inet_pton(AF_INET6, host, a) == 1) {
		static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

		if (!memcmp(a, mapped, 12)) {
			f->attr = ELK_FACT_ENDPOINT_V4;
			memcpy(f->v.endpoint.addr, a + 12, 4);
		} else {
			f->attr = ELK_FACT_ENDPOINT_V6;
			memcpy(f->v.endpoint.addr, a, 16);
		}
	} else {
		return -EINVAL;
	}
	return 0;
}

static bool glob_any(const char *const *g, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!fnmatch(g[i], name, 0))
			return true;
	return false;
}

/* Is this interface a WireGuard device (ours or another)? Its addresses are
 * inside some tunnel: announcing them as endpoints would route a tunnel
 * through itself. */
static bool is_wireguard(struct elk_rtnl *rt, bool have_rt, const char *name, const char *self)
{
	char path[128], kind[32];
	int idx;

	if (!strcmp(name, self))
		return true;
	if (elk_uapi_sock_path(path, sizeof(path), name) == 0 && access(path, F_OK) == 0)
		return true;
	if (have_rt && (idx = elk_rtnl_ifindex(name)) > 0 &&
	    elk_rtnl_link_kind(rt, idx, kind, sizeof(kind)) == 0 && !strcmp(kind, "wireguard"))
		return true;
	return false;
}

static int local_endpoints(const struct elk_device *dev, const struct elk_facts_local_opts *o,
			   struct elk_facts_list *out, struct elk_err *e)
{
	struct ifaddrs *ifa, *i;
	struct elk_rtnl rt;
	bool have_rt;
	int r = 0;

	if (getifaddrs(&ifa) < 0) {
		r = -errno;
		elk_errf(e, "cannot list interface addresses: %s", strerror(-r));
		return r;
	}
	have_rt = elk_rtnl_open(&rt) == 0;
	for (i = ifa; i && !r; i = i->ifa_next) {
		struct elk_fact f = { .ttl = o->ttl };
		const struct sockaddr *sa = i->ifa_addr;

		if (!sa || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
			continue;
		if (!(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK))
			continue;
		if (o->n_include && !glob_any(o->include, o->n_include, i->ifa_name))
			continue;
		if (glob_any(o->exclude, o->n_exclude, i->ifa_name))
			continue;
		if (is_wireguard(&rt, have_rt, i->ifa_name, o->ifname))
			continue;
		memcpy(f.subject, dev->public_key, ELK_KEY_LEN);
		f.v.endpoint.port = dev->listen_port;
		if (sa->sa_family == AF_INET) {
			f.attr = ELK_FACT_ENDPOINT_V4;
			memcpy(f.v.endpoint.addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		} else {
			const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;

			/* Link-local needs a scope no peer shares. */
			if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
				continue;
			f.attr = ELK_FACT_ENDPOINT_V6;
			memcpy(f.v.endpoint.addr, a, 16);
		}
		if (elk_facts_list_add(out, &f) < 0)
			r = (elk_errf(e, "out of memory"), -ENOMEM);
	}
	if (have_rt)
		elk_rtnl_close(&rt);
	freeifaddrs(ifa);
	return r;
}

static bool is_ll_host(const struct elk_cidr *c, const uint8_t pub[ELK_KEY_LEN])
{
	uint8_t ll[16];

	elk_addr_ll_from_key(pub, ll);
	return c->family == AF_INET6 && c->len == 128 && !memcmp(c->addr, ll, 16);
}

int elk_facts_local(const struct elk_device *dev, const struct elk_facts_local_opts *o,
		    int64_t now, struct elk_facts_list *out, struct elk_err *e)
{
	struct elk_fact f;
	int r;

	if (dev->listen_port && (r = local_endpoints(dev, o, out, e)) < 0)
		return r;
	for (size_t i = 0; i < dev->n_peers; i++) {
		const struct elk_peer *p = &dev->peers[i];

		if (p->endpoint[0] && p->last_handshake &&
		    now - p->last_handshake < ELK_FACTS_HEALTHY_SEC &&
		    elk_facts_endpoint(&f, p->public_key, p->endpoint, o->ttl) == 0 &&
		    elk_facts_list_add(out, &f) < 0)
			return elk_errf(e, "out of memory"), -ENOMEM;
		/* Every peer on the device is a member as far as we know: a
		 * receiver believes it only from a source trusted with
		 * membership (a router), which is how new members spread. */
		f = (struct elk_fact){ .attr = ELK_FACT_MEMBER, .ttl = o->ttl };
		memcpy(f.subject, p->public_key, ELK_KEY_LEN);
		if (elk_facts_list_add(out, &f) < 0)
			return elk_errf(e, "out of memory"), -ENOMEM;
		for (size_t j = 0; j < p->n_allowed_ips; j++) {
			const struct elk_cidr *c = &p->allowed_ips[j];

			if (is_ll_host(c, p->public_key))
				continue;
			f = (struct elk_fact){ .ttl = o->ttl };
			f.attr = c->family == AF_INET ? ELK_FACT_ALLOWED_V4 : ELK_FACT_ALLOWED_V6;
			memcpy(f.subject, p->public_key, ELK_KEY_LEN);
			f.v.allowed = *c;
			if (elk_facts_list_add(out, &f) < 0)
				return elk_errf(e, "out of memory"), -ENOMEM;
		}
	}
	for (size_t i = 0; i < o->n_routes; i++) {
		f = (struct elk_fact){ .ttl = o->ttl };
		f.attr = o->routes[i].family == AF_INET ? ELK_FACT_ALLOWED_V4 : ELK_FACT_ALLOWED_V6;
		memcpy(f.subject, dev->public_key, ELK_KEY_LEN);
		f.v.allowed = o->routes[i];
		elk_cidr_mask(&f.v.allowed);
		if (elk_facts_list_add(out, &f) < 0)
			return elk_errf(e, "out of memory"), -ENOMEM;
	}
	f = (struct elk_fact){ .attr = ELK_FACT_ALIVE, .ttl = o->ttl };
	memcpy(f.subject, dev->public_key, ELK_KEY_LEN);
	memcpy(f.v.boot_id, o->boot_id, sizeof(f.v.boot_id));
	return elk_facts_list_add(out, &f) < 0 ? (elk_errf(e, "out of memory"), -ENOMEM) : 0;
}
