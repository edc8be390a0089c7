/* uspace.h - el-link's userspace backend: this process is the device.
 *
 * It owns a TUN interface, the UDP sockets on the listen port and the
 * cross-platform UAPI socket (/var/run/wireguard/IFACE.sock, so wg(8) works
 * against it unchanged), and moves packets between them through the
 * sans-IO WireGuard device (wg_device.h) in one epoll loop. It stops on
 * SIGTERM/SIGINT, or when its socket file is removed.
 */
#ifndef ELK_USPACE_H
#define ELK_USPACE_H

#include <stdbool.h>

#include "wg_device.h"

struct elk_uspace_opts {
	const char *ifname;
	/* Read iface/peer records from stdin as they come; each record is
	 * applied whole or not at all. */
	bool read_stdin;
	/* Fork once the device is configured and serving; the parent exits
	 * 0 then (and with the child's error code when setup fails). */
	bool daemonize;
	bool verbose;
	struct elk_wg_dev_cfg dev;
};

/* Runs the device until it is told to stop. Returns an exit code. */
int elk_uspace_run(const struct elk_uspace_opts *o);

#endif
