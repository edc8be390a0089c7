/* facts_gossip.h - el-facts gossip: wirelink's fact exchange between
 * WireGuard peers, inside the tunnel (wirelink's PROTOCOL.md,
 * ../shared/FACTS-WIRE.md, issue 5, el-facts(1)).
 *
 * Alongside a running device: gives the device and each peer their
 * link-local addresses (ours fe80::/64 on the interface, each peer's /128
 * in its allowed IPs), and every cycle sends each peer that has an endpoint
 * the facts it would otherwise forget — signed groups sealed for that peer,
 * to [its link-local]:listen port + 1 from ours, on a socket bound to the
 * interface. A fact is re-sent when the peer's copy would expire within
 * TTL/2 + one cycle, alive at least every alive period; a peer is never told
 * facts about itself. Received groups count only when they come from the
 * signer's link-local address and verify under our key; each inner fact is
 * printed as a record with its source. Facts read from the input are
 * announced like our own until withdrawn (the same fact with ttl 0).
 */
#ifndef ELK_FACTS_GOSSIP_H
#define ELK_FACTS_GOSSIP_H

#include <stdbool.h>
#include <stdio.h>

#include "facts_local.h"

struct elk_facts_gossip_opts {
	struct elk_facts_local_opts local; /* ifname, globs, routes, ttl, boot id */
	unsigned cycle;                    /* seconds between rounds */
	unsigned alive;                    /* seconds between alive facts */
	const uint8_t *private_key;        /* NULL: the device's */
	bool relay;                        /* also pass on facts received */
	int in_fd;                         /* fact records to announce; -1 for none */
	FILE *out;                         /* received facts, one record a line */
};

/* Runs until SIGINT/SIGTERM (0) or a failure: -errno with e set (-ENODEV:
 * the device is gone; -EINVAL: no private key, no listen port). */
int elk_facts_gossip(const struct elk_facts_gossip_opts *o, struct elk_err *e);

#endif
