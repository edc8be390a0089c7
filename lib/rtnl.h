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
int elk_rtnl_addr(struct elk_rtnl *r, int ifindex, const struct elk_cidr *c, bool add);
/* Route to c (host bits cleared) through the link; add or delete. */
int elk_rtnl_route(struct elk_rtnl *r, int ifindex, const struct elk_cidr *c, bool add);

#endif
