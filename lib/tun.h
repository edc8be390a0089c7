/* tun.h - a Linux TUN interface (Documentation/networking/tuntap.rst):
 * layer-3 packets, no packet-information header, non-blocking. The
 * interface lives as long as the descriptor: closing it deletes the link. */
#ifndef ELK_TUN_H
#define ELK_TUN_H

/* An fd, or -errno (-EBUSY: a link of that name exists and is not ours). */
int elk_tun_open(const char *name);

#endif
