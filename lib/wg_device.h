/* wg_device.h - a WireGuard device as a sans-IO state machine.
 *
 * Composes the pure parts (wg_noise, wg_cookie, wg_replay, wg_allowedips,
 * wg_ratelimit, wg_timers) into one device: identity, peers, index table,
 * keypairs previous/current/next, staged packets, counters. It owns no
 * socket, no TUN and no clock, in the style of boringtun's tunnel API: the
 * caller hands in a packet from the tunnel (encapsulate), a datagram from the
 * network (decapsulate) or the passing of time (tick), always with `now`,
 * and gets back what to do: write a datagram to the network, write a packet
 * to the tunnel, or nothing. One input can cause several outputs (a
 * completed handshake releases staged packets), so after any call the caller
 * drains elk_wg_dev_poll() until it returns ELK_WG_NOTHING.
 *
 * The TUN event loop of el-link, the later no-privilege mode and the
 * in-process tests all drive this same code.
 */
#ifndef ELK_WG_DEVICE_H
#define ELK_WG_DEVICE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "model.h"
#include "wg_timers.h"

/* The most a transport packet adds to an IP packet: header 16, padding to
 * a multiple of 16 (at most 15), tag 16. Size output buffers as
 * len + ELK_WG_OVERHEAD, and never below ELK_WG_MIN_OUT. */
#define ELK_WG_OVERHEAD (16 + 15 + 16)
#define ELK_WG_MIN_OUT 148

enum elk_wg_op {
	ELK_WG_NOTHING = 0,
	ELK_WG_TO_NETWORK, /* send out[0..len) to addr */
	ELK_WG_TO_TUNNEL,  /* write out[0..len) (an IP packet) to the tunnel */
};

struct elk_wg_result {
	enum elk_wg_op op;
	size_t len;
	struct sockaddr_storage addr; /* for TO_NETWORK */
	socklen_t addrlen;
	/* Why an input was dropped (0 when it was not): -EBADMSG not
	 * authentic, -ENOKEY no session, -ESTALE replayed, -EACCES inner
	 * source not allowed for the peer, -EHOSTUNREACH no peer routes the
	 * destination or the peer has no endpoint, -EBUSY rate limited,
	 * -EINVAL malformed. For statistics and tests; never fatal. */
	int dropped;
};

struct elk_wg_dev;

struct elk_wg_dev_cfg {
	struct elk_wg_timers_cfg timers;
	/* Handshake messages per second above which the device counts as
	 * under load and answers initiations without a valid mac2 with a
	 * cookie reply. 0: never under load. */
	uint32_t under_load_per_sec;
	/* Per-source handshake rate limit while under load. */
	uint32_t ratelimit_per_sec;
	uint32_t ratelimit_burst;
	/* Packets staged per peer while a handshake is in flight. */
	uint32_t max_staged;
};
void elk_wg_dev_default_cfg(struct elk_wg_dev_cfg *cfg);

/* NULL cfg: defaults. NULL on out-of-memory. */
struct elk_wg_dev *elk_wg_dev_new(const struct elk_wg_dev_cfg *cfg);
/* Wipes every secret and frees. */
void elk_wg_dev_free(struct elk_wg_dev *d);

/* Applies a change set in the model's terms, incrementally: flags say what
 * changes; peers not mentioned keep their sessions (unless the change has
 * ELK_DEV_REPLACE_PEERS, which removes the peers it does not name); a peer
 * whose key, PSK, endpoint, keepalive or allowed IPs change keeps its
 * session unless its PSK changed. Endpoints must be numeric ("IP:PORT",
 * "[IPv6]:PORT"; the caller resolves names first). Validates the whole
 * change before touching anything: on error nothing is applied. 0 or -errno
 * (-EINVAL with a reason in e). listen_port and fwmark are stored for
 * reporting; the sockets are the caller's. */
int elk_wg_dev_configure(struct elk_wg_dev *d, const struct elk_device *change,
			 uint64_t now_ns, struct elk_err *e);

/* The device's current configuration and statistics in the model's terms:
 * private key, listen port, fwmark, and per peer its public key, PSK,
 * current endpoint (as roamed), allowed IPs, keepalive, last handshake,
 * rx/tx bytes. nsec (may be NULL) receives a malloc'd array of the
 * handshake times' nanoseconds, one per peer. out must be empty; free it
 * with elk_device_clear(). */
int elk_wg_dev_snapshot(const struct elk_wg_dev *d, struct elk_device *out, int64_t **nsec);

/* `now_ns` is a monotonic clock; `wall_ns` (CLOCK_REALTIME) is needed only
 * for the TAI64N timestamp of initiations and for last_handshake; the
 * device keeps the offset from the last value given here. */
void elk_wg_dev_set_wall_clock(struct elk_wg_dev *d, uint64_t wall_ns, uint64_t now_ns);

/* An IP packet (v4 or v6) read from the tunnel. */
struct elk_wg_result elk_wg_dev_encapsulate(struct elk_wg_dev *d, const uint8_t *pkt, size_t len,
					    uint8_t *out, size_t cap, uint64_t now_ns);
/* A UDP datagram received from src. */
struct elk_wg_result elk_wg_dev_decapsulate(struct elk_wg_dev *d, const struct sockaddr *src,
					    socklen_t srclen, const uint8_t *pkt, size_t len,
					    uint8_t *out, size_t cap, uint64_t now_ns);
/* Run due timers. */
struct elk_wg_result elk_wg_dev_tick(struct elk_wg_dev *d, uint8_t *out, size_t cap,
				     uint64_t now_ns);
/* The next pending output, after any of the three calls above. */
struct elk_wg_result elk_wg_dev_poll(struct elk_wg_dev *d, uint8_t *out, size_t cap,
				     uint64_t now_ns);
/* When tick is next due (monotonic ns), UINT64_MAX when nothing is armed. */
uint64_t elk_wg_dev_next_deadline(const struct elk_wg_dev *d);

#endif
