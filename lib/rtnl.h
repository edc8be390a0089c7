/* rtnl.h - the few rtnetlink operations a WireGuard interface needs, through
 * libmnl: look up a link, set MTU and up/down, add and delete addresses and
 * routes. Routes and addresses are added with NLM_F_REPLACE so applying the
 * same configuration twice changes nothing. Every call returns 0 or -errno
 * (the kernel's answer).
 */
#ifndef ELK_RTNL_H
#define ELK_RTNL_H

#include <stdbool.h>

#include "addr.h"

struct mnl_socket;

struct elk_rtnl {
	struct mnl_socket *nl;
	unsigned seq;
	unsigned portid;
};

int elk_rtnl_open(struct elk_rtnl *r);
void elk_rtnl_close(struct elk_rtnl *r);

/* 0 when no link has that name. */
int elk_rtnl_ifindex(const char *name);
int elk_rtnl_link_set(struct elk_rtnl *r, int ifindex, bool up, unsigned mtu);
/* No automatic IPv6 link-local address on the link (before it goes up): a
 * random fe80:: address is in no peer's allowed IPs, so packets sent from
 * it would be dropped by cryptokey routing. */
int elk_rtnl_link_no_addrgen(struct elk_rtnl *r, int ifindex);
int elk_rtnl_addr(struct elk_rtnl *r, int ifindex, const struct elk_cidr *c, bool add);
/* Route to c (host bits cleared) through the link; add or delete. */
int elk_rtnl_route(struct elk_rtnl *r, int ifindex, const struct elk_cidr *c, bool add);

/* Creates a link of a kind ("wireguard"): -EEXIST when the name is
 * taken, -EOPNOTSUPP when the kernel knows no such kind (module missing). */
int elk_rtnl_link_add(struct elk_rtnl *r, const char *name, const char *kind);
int elk_rtnl_link_del(struct elk_rtnl *r, int ifindex);
/* The link's kind (IFLA_INFO_KIND) into kind; "" for a link without one
 * (a physical device, lo). -ENODEV when there is no such link. */
int elk_rtnl_link_kind(struct elk_rtnl *r, int ifindex, char *kind, size_t cap);

struct elk_device;
/* The IP side of a configuration change on a link: MTU (and up), the
 * interface's addresses, and a route for every allowed IP of every peer the
 * change names (removed peers excepted). A default route (/0) is not added:
 * it would carry the tunnel's own packets; that needs policy routing, as
 * wg-quick sets up. Stops at the first error, naming it in e. */
int elk_rtnl_apply_device(struct elk_rtnl *r, int ifindex, const struct elk_device *change,
			  bool set_up, char *err, size_t errlen);

/* After a change: removes the routes through the link for allowed IPs that
 * some peer had before and no peer has after (a removed peer, replaced
 * allowed IPs), so traffic for them stops going into the tunnel. Routes
 * that are already gone are fine. */
int elk_rtnl_drop_stale_routes(struct elk_rtnl *r, int ifindex, const struct elk_device *before,
			       const struct elk_device *after);

#endif
