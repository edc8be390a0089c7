/* rtnl.c - links, addresses and routes over rtnetlink (rtnetlink(7)), with
 * libmnl building and parsing the messages. One request at a time, each
 * acknowledged, so an error is the kernel's errno for that request. */
#include "rtnl.h"

#include "model.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int elk_rtnl_open(struct elk_rtnl *r)
{
	memset(r, 0, sizeof(*r));
	r->nl = mnl_socket_open(NETLINK_ROUTE);
	if (!r->nl)
		return -errno;
	if (mnl_socket_bind(r->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int err = -errno;

		mnl_socket_close(r->nl);
		r->nl = NULL;
		return err;
	}
	r->portid = mnl_socket_get_portid(r->nl);
	r->seq = (unsigned)time(NULL);
	return 0;
}

void elk_rtnl_close(struct elk_rtnl *r)
{
	if (r->nl)
		mnl_socket_close(r->nl);
	r->nl = NULL;
}

int elk_rtnl_ifindex(const char *name)
{
	return (int)if_nametoindex(name);
}

/* Sends one request and waits for its acknowledgement; cb (may be NULL)
 * sees the replies that come before it. */
static int talk_cb(struct elk_rtnl *r, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	ssize_t n;
	int ret;

	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++r->seq;
	if (mnl_socket_sendto(r->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(r->nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		ret = mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, r->portid, cb, data);
		if (ret < 0)
			return -errno;
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

static int talk(struct elk_rtnl *r, struct nlmsghdr *nlh)
{
	return talk_cb(r, nlh, NULL, NULL);
}

/* The start of every link message: header and ifinfomsg for ifindex
 * (0: by name, in an attribute the caller adds). */
static struct nlmsghdr *link_msg(char *buf, uint16_t type, int ifindex)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifm;

	nlh->nlmsg_type = type;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	return nlh;
}

int elk_rtnl_link_set(struct elk_rtnl *r, int ifindex, bool up, unsigned mtu)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, ifindex);
	struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);

	ifm->ifi_change = IFF_UP;
	ifm->ifi_flags = up ? IFF_UP : 0;
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	return talk(r, nlh);
}

int elk_rtnl_link_no_addrgen(struct elk_rtnl *r, int ifindex)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, ifindex);
	struct nlattr *spec, *inet6;

	spec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
	inet6 = mnl_attr_nest_start(nlh, AF_INET6);
	mnl_attr_put_u8(nlh, IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
	mnl_attr_nest_end(nlh, inet6);
	mnl_attr_nest_end(nlh, spec);
	return talk(r, nlh);
}

int elk_rtnl_addr(struct elk_rtnl *r, int ifindex, const struct elk_cidr *c, bool add)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;
	size_t alen = c->family == AF_INET ? 4 : 16;

	nlh->nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR;
	if (add)
		nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (unsigned char)c->family;
	ifa->ifa_prefixlen = c->len;
	ifa->ifa_index = (unsigned)ifindex;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	if (c->family == AF_INET6 && c->addr[0] == 0xfe && (c->addr[1] & 0xc0) == 0x80)
		ifa->ifa_scope = RT_SCOPE_LINK;
	mnl_attr_put(nlh, IFA_LOCAL, alen, c->addr);
	mnl_attr_put(nlh, IFA_ADDRESS, alen, c->addr);
	if (add && c->family == AF_INET6)
		/* Addresses we manage need no duplicate detection: the
		 * tunnel is point to point and DAD only delays first use. */
		mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
	return talk(r, nlh);
}

int elk_rtnl_route(struct elk_rtnl *r, int ifindex, const struct elk_cidr *c, bool add)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;
	struct elk_cidr net = *c;

	elk_cidr_mask(&net);
	nlh->nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
	if (add)
		nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (unsigned char)net.family;
	rtm->rtm_dst_len = net.len;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_scope = RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put(nlh, RTA_DST, net.family == AF_INET ? 4 : 16, net.addr);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)ifindex);
	return talk(r, nlh);
}

int elk_rtnl_apply_device(struct elk_rtnl *r, int ifindex, const struct elk_device *c,
			  bool set_up, char *err, size_t errlen)
{
	char buf[ELK_CIDR_STRLEN];
	int ret;

	if (set_up || (c->flags & ELK_DEV_MTU)) {
		ret = elk_rtnl_link_set(r, ifindex, true, (c->flags & ELK_DEV_MTU) ? c->mtu : 0);
		if (ret) {
			snprintf(err, errlen, "mtu: cannot set %u on the link: %s", c->mtu, strerror(-ret));
			return ret;
		}
	}
	for (size_t i = 0; i < c->n_addresses; i++) {
		if ((ret = elk_rtnl_addr(r, ifindex, &c->addresses[i], true))) {
			elk_cidr_format(&c->addresses[i], buf);
			snprintf(err, errlen, "addresses[%zu]: cannot add %s: %s", i, buf, strerror(-ret));
			return ret;
		}
	}
	for (size_t i = 0; i < c->n_peers; i++) {
		const struct elk_peer *p = &c->peers[i];

		if (p->flags & ELK_PEER_REMOVE)
			continue;
		for (size_t j = 0; j < p->n_allowed_ips; j++) {
			if (p->allowed_ips[j].len == 0)
				continue;
			if ((ret = elk_rtnl_route(r, ifindex, &p->allowed_ips[j], true))) {
				elk_cidr_format(&p->allowed_ips[j], buf);
				snprintf(err, errlen, "allowed_ips: cannot route %s: %s", buf, strerror(-ret));
				return ret;
			}
		}
	}
	return 0;
}

int elk_rtnl_link_add(struct elk_rtnl *r, const char *name, const char *kind)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, 0);
	struct nlattr *info;

	/* EXCL: a link of that name is someone else's; never take it over. */
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
	mnl_attr_nest_end(nlh, info);
	return talk(r, nlh);
}

int elk_rtnl_link_del(struct elk_rtnl *r, int ifindex)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];

	return talk(r, link_msg(buf, RTM_DELLINK, ifindex));
}

struct kind_buf {
	char *kind;
	size_t cap;
};

static int kind_cb(const struct nlmsghdr *nlh, void *data)
{
	struct kind_buf *k = data;
	const struct nlattr *a, *b;

	mnl_attr_for_each(a, nlh, sizeof(struct ifinfomsg)) {
		if (mnl_attr_get_type(a) != IFLA_LINKINFO)
			continue;
		mnl_attr_for_each_nested(b, a) {
			if (mnl_attr_get_type(b) == IFLA_INFO_KIND &&
			    mnl_attr_validate(b, MNL_TYPE_STRING) == 0)
				snprintf(k->kind, k->cap, "%.*s", (int)mnl_attr_get_payload_len(b),
					 mnl_attr_get_str(b));
		}
	}
	return MNL_CB_OK;
}

int elk_rtnl_link_kind(struct elk_rtnl *r, int ifindex, char *kind, size_t cap)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct kind_buf k = { kind, cap };

	if (cap)
		kind[0] = 0;
	return talk_cb(r, link_msg(buf, RTM_GETLINK, ifindex), kind_cb, &k);
}

static bool has_prefix(const struct elk_device *d, const struct elk_cidr *c)
{
	for (size_t i = 0; i < d->n_peers; i++) {
		for (size_t j = 0; j < d->peers[i].n_allowed_ips; j++) {
			const struct elk_cidr *x = &d->peers[i].allowed_ips[j];

			if (x->family == c->family && x->len == c->len && !memcmp(x->addr, c->addr, 16))
				return true;
		}
	}
	return false;
}

int elk_rtnl_drop_stale_routes(struct elk_rtnl *r, int ifindex, const struct elk_device *before,
			       const struct elk_device *after)
{
	for (size_t i = 0; i < before->n_peers; i++) {
		for (size_t j = 0; j < before->peers[i].n_allowed_ips; j++) {
			const struct elk_cidr *c = &before->peers[i].allowed_ips[j];
			int ret;

			if (c->len == 0 || has_prefix(after, c))
				continue;
			ret = elk_rtnl_route(r, ifindex, c, false);
			if (ret && ret != -ESRCH && ret != -ENOENT)
				return ret;
		}
	}
	return 0;
}
