/* kernel.c - el-link's kernel backend (kernel.h): the link through
 * rtnetlink, the WireGuard configuration through the "wireguard" generic
 * netlink family (the kernel's include/uapi/linux/wireguard.h), both with
 * libmnl. Nothing here keeps running: the kernel is the device.
 */
#include "kernel.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rtnl.h"
#include "wg_genl.h"

#define KIND "wireguard"

static int fail(struct elk_err *e, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct elk_err *e, int r, const char *fmt, ...)
{
	va_list ap;

	if (e) {
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
	}
	return r;
}

static int genl_open(struct elk_wg_genl *g, struct elk_err *e)
{
	int r = elk_wg_genl_open(g);

	if (r == -ENOENT)
		return fail(e, r, "this kernel has no WireGuard (generic netlink family \"%s\" "
			    "unknown: module wireguard not loaded and not loadable)", WG_GENL_NAME);
	if (r)
		return fail(e, r, "generic netlink: %s", strerror(-r));
	return 0;
}

int elk_kernel_available(struct elk_err *e)
{
	struct elk_wg_genl g;
	int r = genl_open(&g, e);

	if (!r)
		elk_wg_genl_close(&g);
	return r;
}

/* The link's kind; -ENODEV when there is no such link. */
static int link_kind(struct elk_rtnl *rt, const char *ifname, int *idx, char *kind, size_t cap)
{
	*idx = elk_rtnl_ifindex(ifname);
	if (!*idx)
		return -ENODEV;
	return elk_rtnl_link_kind(rt, *idx, kind, cap);
}

int elk_kernel_is_link(const char *ifname)
{
	struct elk_rtnl rt;
	char kind[32];
	int idx, r;

	if (!elk_rtnl_ifindex(ifname))
		return 0;
	if ((r = elk_rtnl_open(&rt)))
		return r;
	r = link_kind(&rt, ifname, &idx, kind, sizeof(kind));
	elk_rtnl_close(&rt);
	if (r == -ENODEV)
		return 0;
	return r ? r : !strcmp(kind, KIND);
}

static int set_device(const char *ifname, const struct elk_device *c, struct elk_err *e)
{
	struct elk_wg_genl g;
	unsigned n = 0;
	int r;

	if ((r = genl_open(&g, e)))
		return r;
	r = elk_wg_genl_set(&g, ifname, c, &n);
	elk_wg_genl_close(&g);
	if (r == -ENODEV)
		return fail(e, r, "no WireGuard link");
	if (r == -EINVAL && n == 0)
		return fail(e, r, "an endpoint is not numeric, or the kernel refused the "
			    "configuration (%s)", strerror(-r));
	if (r)
		return fail(e, r, "WG_CMD_SET_DEVICE (message %u): %s", n, strerror(-r));
	return 0;
}

int elk_kernel_up(const char *ifname, const struct elk_device *config, struct elk_err *e)
{
	struct elk_rtnl rt;
	char kind[32], err[256];
	bool created = false;
	int idx, r;

	if ((r = elk_rtnl_open(&rt)))
		return fail(e, r, "rtnetlink: %s", strerror(-r));
	r = link_kind(&rt, ifname, &idx, kind, sizeof(kind));
	if (r == -ENODEV) {
		r = elk_rtnl_link_add(&rt, ifname, KIND);
		if (r == -EOPNOTSUPP) {
			r = fail(e, r, "this kernel has no WireGuard (link kind \"%s\" unknown: "
				 "module wireguard missing)", KIND);
			goto out;
		}
		if (r) {
			r = fail(e, r, "cannot create a %s link: %s", KIND, strerror(-r));
			goto out;
		}
		created = true;
		idx = elk_rtnl_ifindex(ifname);
		if (!idx) {
			r = fail(e, -ENODEV, "the new link went away");
			goto out;
		}
	} else if (r) {
		r = fail(e, r, "rtnetlink: %s", strerror(-r));
		goto out;
	} else if (strcmp(kind, KIND)) {
		r = fail(e, -EEXIST, "a link of that name exists and is not a WireGuard link "
			 "(kind \"%s\")", *kind ? kind : "none");
		goto out;
	}
	if ((r = set_device(ifname, config, e)))
		goto out;
	if ((r = elk_rtnl_apply_device(&rt, idx, config, true, err, sizeof(err))))
		r = fail(e, r, "%s", err);
out:
	if (r && created)
		elk_rtnl_link_del(&rt, idx);
	elk_rtnl_close(&rt);
	return r;
}

int elk_kernel_apply(const char *ifname, const struct elk_device *change, struct elk_err *e)
{
	struct elk_rtnl rt;
	char err[256];
	int idx = elk_rtnl_ifindex(ifname), r;

	if (!idx)
		return fail(e, -ENODEV, "no such link");
	if ((r = set_device(ifname, change, e)))
		return r;
	/* Only what the change names: other peers' routes stay as they are. */
	if (!change->n_addresses && !(change->flags & ELK_DEV_MTU) && !change->n_peers)
		return 0;
	if ((r = elk_rtnl_open(&rt)))
		return fail(e, r, "rtnetlink: %s", strerror(-r));
	if ((r = elk_rtnl_apply_device(&rt, idx, change, false, err, sizeof(err))))
		r = fail(e, r, "%s", err);
	elk_rtnl_close(&rt);
	return r;
}

int elk_kernel_show(const char *ifname, struct elk_device *out, struct elk_err *e)
{
	struct elk_wg_genl g;
	int r;

	if ((r = genl_open(&g, e)))
		return r;
	r = elk_wg_genl_get(&g, ifname, out);
	elk_wg_genl_close(&g);
	if (r == -ENODEV)
		return fail(e, r, "no such link");
	if (r == -EOPNOTSUPP)
		return fail(e, r, "not a WireGuard link");
	if (r)
		return fail(e, r, "WG_CMD_GET_DEVICE: %s", strerror(-r));
	snprintf(out->name, sizeof(out->name), "%s", ifname);
	return 0;
}

int elk_kernel_down(const char *ifname, struct elk_err *e)
{
	struct elk_rtnl rt;
	char kind[32];
	int idx, r;

	if ((r = elk_rtnl_open(&rt)))
		return fail(e, r, "rtnetlink: %s", strerror(-r));
	r = link_kind(&rt, ifname, &idx, kind, sizeof(kind));
	if (r == -ENODEV)
		r = fail(e, r, "no such link");
	else if (r)
		r = fail(e, r, "rtnetlink: %s", strerror(-r));
	else if (strcmp(kind, KIND))
		/* Never delete a link that is not ours to manage. */
		r = fail(e, -EOPNOTSUPP, "not a WireGuard link (kind \"%s\")", *kind ? kind : "none");
	else if ((r = elk_rtnl_link_del(&rt, idx)))
		r = fail(e, r, "cannot delete the link: %s", strerror(-r));
	elk_rtnl_close(&rt);
	return r;
}
