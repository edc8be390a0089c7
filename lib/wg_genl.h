/* wg_genl.h - kernel WireGuard's generic netlink family "wireguard", with
 * libmnl: WG_CMD_SET_DEVICE from a change set of the device model, and the
 * WG_CMD_GET_DEVICE dump back into the model.
 *
 * The protocol is specified in the kernel's include/uapi/linux/wireguard.h
 * (the long comment at its top). Two rules from there shape this file:
 * - a configuration larger than one message is sent as several SET
 *   messages; only the first carries the device's fields and replace-peers
 *   flag, and a peer whose allowed IPs do not fit continues in the next
 *   message with only its public key and the rest of its allowed IPs (no
 *   replace flag again), as wireguard-tools' ipc-linux.c does;
 * - a GET dump comes back the same way, split over several messages, and
 *   the receiver joins a peer that continues in the next message.
 *
 * Building and parsing work on caller-supplied buffers with no I/O, so the
 * unit tests check them without a kernel; elk_wg_genl_* do the socket I/O.
 * Every function returns 0 (or a documented count) or -errno.
 */
#ifndef ELK_WG_GENL_H
#define ELK_WG_GENL_H

#include <linux/netlink.h>
#include <sys/socket.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

#if defined(__has_include)
#if __has_include(<linux/wireguard.h>)
#include <linux/wireguard.h>
#define ELK_HAVE_LINUX_WIREGUARD_H 1
#endif
#endif

#ifndef ELK_HAVE_LINUX_WIREGUARD_H
/* Without the kernel's uapi header (linux-libc-dev older than 5.6): the
 * same constants, from the kernel's include/uapi/linux/wireguard.h. */
#define WG_GENL_NAME "wireguard"
#define WG_GENL_VERSION 1
#define WG_KEY_LEN 32
enum wg_cmd { WG_CMD_GET_DEVICE, WG_CMD_SET_DEVICE };
enum wgdevice_flag { WGDEVICE_F_REPLACE_PEERS = 1U << 0 };
enum wgdevice_attribute {
	WGDEVICE_A_UNSPEC,
	WGDEVICE_A_IFINDEX,
	WGDEVICE_A_IFNAME,
	WGDEVICE_A_PRIVATE_KEY,
	WGDEVICE_A_PUBLIC_KEY,
	WGDEVICE_A_FLAGS,
	WGDEVICE_A_LISTEN_PORT,
	WGDEVICE_A_FWMARK,
	WGDEVICE_A_PEERS,
};
enum wgpeer_flag {
	WGPEER_F_REMOVE_ME = 1U << 0,
	WGPEER_F_REPLACE_ALLOWEDIPS = 1U << 1,
	WGPEER_F_UPDATE_ONLY = 1U << 2,
};
enum wgpeer_attribute {
	WGPEER_A_UNSPEC,
	WGPEER_A_PUBLIC_KEY,
	WGPEER_A_PRESHARED_KEY,
	WGPEER_A_FLAGS,
	WGPEER_A_ENDPOINT,
	WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL,
	WGPEER_A_LAST_HANDSHAKE_TIME,
	WGPEER_A_RX_BYTES,
	WGPEER_A_TX_BYTES,
	WGPEER_A_ALLOWEDIPS,
	WGPEER_A_PROTOCOL_VERSION,
};
enum wgallowedip_attribute {
	WGALLOWEDIP_A_UNSPEC,
	WGALLOWEDIP_A_FAMILY,
	WGALLOWEDIP_A_IPADDR,
	WGALLOWEDIP_A_CIDR_MASK,
};
#endif

/* Size of one SET message we send. wireguard-tools uses a page
 * (MNL_SOCKET_BUFFER_SIZE); any size the kernel's socket takes would do,
 * and a fixed one makes the split the same on every machine. */
#define ELK_WG_MSG_SIZE 4096
/* The smallest buffer elk_wg_build_set works with: the device's fields and
 * one peer with every field and one allowed IP. */
#define ELK_WG_MSG_MIN 256
/* Receive buffer for dump replies: the kernel fills up to what a reader
 * takes (32 KiB is libmnl's MNL_SOCKET_DUMP_SIZE). */
#define ELK_WG_RECV_SIZE 32768

/* Where elk_wg_build_set is in a change set: which peer comes next, and
 * whether that peer was begun in an earlier message (then the next message
 * carries only its public key and allowed IPs from aip on). */
struct elk_wg_set_iter {
	const struct elk_device *change;
	size_t peer;
	size_t aip;
	bool peer_begun;
	bool first_done; /* the first message (device fields) is out */
	bool done;
};

void elk_wg_set_iter_init(struct elk_wg_set_iter *it, const struct elk_device *change);

/* Builds the next WG_CMD_SET_DEVICE request of a change set into buf (cap
 * bytes, at least ELK_WG_MSG_MIN), addressed to ifname: 1 with *out set
 * (its nlmsg_len is the length), 0 when every message has been built (the
 * first call always builds one, even for an empty change), -EINVAL for an
 * endpoint that is not numeric ("IP:PORT" or "[IPv6]:PORT": resolve names
 * first) or a bad interface name, -EMSGSIZE if cap is too small to make
 * progress. The device's own fields and WGDEVICE_F_REPLACE_PEERS go in
 * the first message only; a peer's flags, preshared key, endpoint and
 * keepalive go with its first fragment only. Sequence numbers and ACK
 * flags are the caller's (the request flags are NLM_F_REQUEST|NLM_F_ACK). */
int elk_wg_build_set(void *buf, size_t cap, uint16_t family, const char *ifname,
		     struct elk_wg_set_iter *it, struct nlmsghdr **out);

/* The WG_CMD_GET_DEVICE dump request for ifname. 0 or -EINVAL. */
int elk_wg_build_get(void *buf, size_t cap, uint16_t family, const char *ifname,
		     struct nlmsghdr **out);

/* CTRL_CMD_GETFAMILY for "wireguard", to the genl controller. */
int elk_wg_build_getfamily(void *buf, size_t cap, struct nlmsghdr **out);

/* Parses one reply of a GET dump (or, for tests, one SET message built
 * above: its flags become the model's flags) into d, which accumulates:
 * device fields present overwrite d's; each peer is appended, or joined to
 * d's last peer when it has the same public key (a peer continued from the
 * previous message). Fields read back: public key, preshared key (flagged
 * only when not zero), endpoint (as "IP:PORT" / "[IPv6]:PORT"),
 * keepalive, allowed IPs, last handshake, rx/tx bytes. 0, -EINVAL for a
 * malformed message (d may hold part of it), -ENOMEM. */
int elk_wg_parse_device(const struct nlmsghdr *nlh, struct elk_device *d);

/* Runs over a buffer of netlink messages as one recv() returns them, for a
 * request with this seq from this portid (0 = any):
 * - elk_wg_parse_dump feeds each reply to elk_wg_parse_device; returns 1
 *   while more messages are due, 0 at NLMSG_DONE, or a negative errno: from
 *   an NLMSG_ERROR, from the error code NLMSG_DONE carries, -EINVAL for a
 *   malformed message, -EPROTO/-ESRCH for someone else's message;
 * - elk_wg_parse_ack: 0 for an acknowledgement, 1 if still due, -errno
 *   from NLMSG_ERROR;
 * - elk_wg_parse_family: 0 with *id set from the controller's answer, 1 if
 *   still due, -ENOENT when the kernel knows no "wireguard" family (no
 *   module), other -errno. */
int elk_wg_parse_dump(const void *buf, size_t len, uint32_t seq, uint32_t portid,
		      struct elk_device *d);
int elk_wg_parse_ack(const void *buf, size_t len, uint32_t seq, uint32_t portid);
int elk_wg_parse_family(const void *buf, size_t len, uint32_t seq, uint32_t portid,
			uint16_t *id);

/* Numeric endpoint string <-> socket address (struct sockaddr_in or
 * sockaddr_in6, as WGPEER_A_ENDPOINT carries). */
int elk_wg_endpoint_to_sockaddr(const char *s, struct sockaddr_storage *ss, size_t *len);
int elk_wg_sockaddr_to_endpoint(const void *sa, size_t len, char *out, size_t cap);

/* Socket I/O: a generic netlink socket with the family resolved. */
struct mnl_socket;
struct elk_wg_genl {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
	uint16_t family;
};

/* Opens the socket and resolves the family: -ENOENT when the kernel has no
 * WireGuard (module missing and not loadable). */
int elk_wg_genl_open(struct elk_wg_genl *g);
void elk_wg_genl_close(struct elk_wg_genl *g);
/* Sends a change set as one or more SET messages, each acknowledged before
 * the next (so an error names the message that failed; those before it
 * are applied, as with wireguard-tools). *nmsgs (may be NULL) is the count
 * sent. */
int elk_wg_genl_set(struct elk_wg_genl *g, const char *ifname, const struct elk_device *change,
		    unsigned *nmsgs);
/* Reads the device into out (empty): -ENODEV when ifname is no WireGuard
 * link, -EOPNOTSUPP when it is a link of another kind. */
int elk_wg_genl_get(struct elk_wg_genl *g, const char *ifname, struct elk_device *out);

#endif
