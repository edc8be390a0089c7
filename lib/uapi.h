/* uapi.h - the cross-platform WireGuard configuration protocol.
 *
 * What wireguard-go and Debian's wg(8) speak over /var/run/wireguard/IF.sock
 * (wireguard.com/xplatform): "get=1\n\n" is answered with key=value lines
 * and "errno=0\n\n"; "set=1\n" is followed by key=value lines and an empty
 * line, and answered with "errno=N\n\n" (0 or a negative errno). Keys are
 * lower-case hex. Both directions convert to and from the device model, so
 * a UAPI set and a record stream change a device the same way.
 */
#ifndef ELK_UAPI_H
#define ELK_UAPI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "model.h"
#include "records.h"

/* The longest line we take: "allowed_ip=" and an IPv6 CIDR, or an endpoint
 * with a 253-character host name. */
#define ELK_UAPI_LINE_MAX 512

/* Parses the body of a set operation (the lines after "set=1", up to but
 * not including the empty line) into change, which starts empty. Fields
 * set are flagged as with records; a private key of all zeros clears the
 * key (flag set, key zero). On error returns -EINVAL (unknown key, bad
 * value, a peer field before any public_key) with "line N: ..." in e,
 * N counted from the first line after "set=1". */
int elk_uapi_parse_set(const char *body, size_t len, struct elk_device *change,
		       struct elk_err *e);

/* Parses the answer to get=1 (with or without its "errno=0" line) into out,
 * which starts empty: configuration and per-peer statistics. */
int elk_uapi_parse_get(const char *body, size_t len, struct elk_device *out, struct elk_err *e);

/* Writes the answer to get=1 for d, without the closing "errno=0". */
int elk_uapi_format_get(FILE *out, const struct elk_device *d,
			const int64_t *handshake_nsec);

/* Writes a change set as the body of a set operation (without "set=1" and
 * the closing empty line). */
int elk_uapi_format_set(FILE *out, const struct elk_device *change);

/* Where the UAPI socket of an interface lives, as wg(8) looks for it. */
#define ELK_UAPI_DIR "/var/run/wireguard"
int elk_uapi_sock_path(char *out, size_t cap, const char *ifname);
/* Connects to the socket of ifname: an fd, or -errno (-ENOENT: no such
 * userspace device). */
int elk_uapi_connect(const char *ifname);
/* One set transaction: 0, the device's negative errno, or -EIO. */
int elk_uapi_set(int fd, const struct elk_device *change, struct elk_err *e);
/* One get transaction into out (empty). */
int elk_uapi_get(int fd, struct elk_device *out, struct elk_err *e);

#endif
