/* model.h - the one in-memory model of a WireGuard device and its peers.
 *
 * Every input and output converts to and from this (wireguard-tools' rule):
 * records today, the cross-platform UAPI text and netlink messages next.
 * Flags say which fields a configuration sets, so a change is incremental:
 * what a record leaves out stays as it is on the device.
 */
#ifndef ELK_MODEL_H
#define ELK_MODEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "addr.h"
#include "key.h"
#include "records.h"

#define ELK_IFNAMSIZ 16
#define ELK_ENDPOINT_MAX 262 /* "[" + 253-char host + "]:" + 5 digits */

enum elk_dev_flags {
	ELK_DEV_PRIVATE_KEY = 1 << 0,
	ELK_DEV_LISTEN_PORT = 1 << 1,
	ELK_DEV_FWMARK = 1 << 2,
	ELK_DEV_MTU = 1 << 3,
	ELK_DEV_ADDRESSES = 1 << 4,
	ELK_DEV_DNS = 1 << 5,
	ELK_DEV_REPLACE_PEERS = 1 << 6,
	ELK_DEV_NAME = 1 << 7,
};

enum elk_peer_flags {
	ELK_PEER_PRESHARED_KEY = 1 << 0,
	ELK_PEER_ENDPOINT = 1 << 1,
	ELK_PEER_KEEPALIVE = 1 << 2,
	ELK_PEER_ALLOWED_IPS = 1 << 3,
	ELK_PEER_REPLACE_ALLOWED_IPS = 1 << 4,
	ELK_PEER_REMOVE = 1 << 5,
	ELK_PEER_UPDATE_ONLY = 1 << 6, /* UAPI: change the peer only if it exists */
};

struct elk_peer {
	uint32_t flags;
	uint8_t public_key[ELK_KEY_LEN];
	uint8_t preshared_key[ELK_KEY_LEN];
	char endpoint[ELK_ENDPOINT_MAX];
	uint16_t persistent_keepalive_interval;
	struct elk_cidr *allowed_ips;
	size_t n_allowed_ips;
	/* Read back from a running device. */
	int64_t last_handshake; /* Unix seconds, 0 = never */
	uint64_t rx_bytes, tx_bytes;
};

struct elk_device {
	uint32_t flags;
	char name[ELK_IFNAMSIZ];
	uint8_t private_key[ELK_KEY_LEN];
	uint8_t public_key[ELK_KEY_LEN]; /* derived from private_key */
	uint16_t listen_port;
	uint32_t fwmark;
	uint32_t mtu;
	struct elk_cidr *addresses;
	size_t n_addresses;
	struct elk_cidr *dns;
	size_t n_dns;
	struct elk_peer *peers;
	size_t n_peers;
};

#define ELK_MTU_MIN 576
#define ELK_MTU_MAX 65535
#define ELK_MTU_DEFAULT 1420

/* Validates an interface name as the kernel would take it. */
bool elk_ifname_valid(const char *name);

/* Applies one `iface` record to d: the fields it has override d's. On error
 * d is unchanged and e says which field is wrong. */
int elk_device_apply_iface(struct elk_device *d, const json_t *rec, struct elk_err *e);
/* Applies one `peer` record: a new peer, or merged into the one with the
 * same public key (later fields win, allowed IPs accumulate). On error d is
 * unchanged. */
int elk_device_apply_peer(struct elk_device *d, const json_t *rec, struct elk_err *e);

struct elk_peer *elk_device_find_peer(const struct elk_device *d,
				      const uint8_t key[ELK_KEY_LEN]);

/* A JSON array of the prefixes ("10.0.0.1/24"), or with addr_only of the
 * bare addresses. */
json_t *elk_cidr_array_json(const struct elk_cidr *c, size_t n, bool addr_only);

/* Records of what d sets. The private key appears only if with_private. */
json_t *elk_iface_record(const struct elk_device *d, bool with_private);
json_t *elk_peer_record(const struct elk_peer *p);

/* Connection state of a peer, a pure function of its handshake age and, when
 * an earlier sample of the same peer is given (prev, else NULL), of how its
 * counters moved since (documented in edgelink-records(7)):
 *   connected   a handshake less than 180 s old (REJECT_AFTER_TIME)
 *   none        no endpoint and never a handshake: nothing to do
 *   error       no recent handshake, and since prev we sent bytes but
 *               received none: packets go out and nothing comes back
 *   connecting  anything else: an endpoint, waiting for a handshake */
const char *elk_peer_state(const struct elk_peer *p, const struct elk_peer *prev, int64_t now);
/* True when p had a handshake less than 180 s before now (Unix seconds):
 * its endpoint works. elk_peer_state's "connected". */
bool elk_peer_connected(const struct elk_peer *p, int64_t now);
/* The `status` record of one peer (prev as for elk_peer_state). */
json_t *elk_status_record(const struct elk_device *d, const struct elk_peer *p,
			  const struct elk_peer *prev, int64_t now);

/* Frees and wipes everything d holds; d is left empty. */
void elk_device_clear(struct elk_device *d);
void elk_peer_clear(struct elk_peer *p);

#endif
