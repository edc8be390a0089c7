/* kernel.h - el-link's kernel backend: the Linux WireGuard module is the
 * device, driven over netlink (no process stays behind).
 *
 * The link itself (kind "wireguard"), its MTU, addresses and routes go
 * through rtnetlink (rtnl.h); keys, port, fwmark and peers through the
 * generic netlink family "wireguard" (wg_genl.h, the kernel's
 * include/uapi/linux/wireguard.h). A change is applied in place: the link
 * is never recreated, so peers a change does not name keep their sessions.
 * Every function returns 0 or -errno with e saying what failed.
 */
#ifndef ELK_KERNEL_H
#define ELK_KERNEL_H

#include <stdbool.h>

#include "model.h"
#include "records.h"

/* Can this kernel give us WireGuard links? 0 when the "wireguard" genetlink
 * family resolves (asking for it loads the module when it can be loaded);
 * -ENOENT (no module) or another -errno, with e saying what is missing. */
int elk_kernel_available(struct elk_err *e);

/* 1 when ifname is a link of kind "wireguard", 0 when it is not (or there
 * is no such link), -errno when rtnetlink fails. */
int elk_kernel_is_link(const char *ifname);

/* Creates the link unless a WireGuard link of that name exists (another
 * kind of link by that name is -EEXIST), applies config (WG_CMD_SET_DEVICE,
 * then MTU, addresses and routes), sets it up. A link created here is
 * deleted again when a later step fails. Endpoints must be numeric. */
int elk_kernel_up(const char *ifname, const struct elk_device *config, struct elk_err *e);

/* Applies a change set to an existing link: -ENODEV when there is none. */
int elk_kernel_apply(const char *ifname, const struct elk_device *change, struct elk_err *e);

/* Reads the device (configuration and per-peer statistics) into out,
 * which starts empty; out->name is set. */
int elk_kernel_show(const char *ifname, struct elk_device *out, struct elk_err *e);

/* Deletes the link (its routes and addresses go with it). */
int elk_kernel_down(const char *ifname, struct elk_err *e);

#endif
