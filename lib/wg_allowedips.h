/* wg_allowedips.h - WireGuard allowed-IPs table (cryptokey routing).
 *
 * Maps IPv4 and IPv6 prefixes to an opaque peer pointer with longest-prefix
 * match, as the whitepaper's cryptokey routing (§2) requires: outbound
 * packets are sent to the peer owning the longest prefix matching their
 * destination, and inbound packets are accepted only if the longest prefix
 * matching their source belongs to the peer that sent them.  An exact
 * prefix has one owner; inserting it again for another peer moves it.
 */
#ifndef ELK_WG_ALLOWEDIPS_H
#define ELK_WG_ALLOWEDIPS_H

#include <stddef.h>
#include <stdint.h>

struct elk_wg_aip_node;

struct elk_wg_allowedips {
	struct elk_wg_aip_node *root4, *root6;
	size_t count;		/* prefixes with an owner */
	size_t nodes;		/* allocated, always < 2 * count + 1 */
};

/* Called for each prefix of a peer; a nonzero return stops the walk and is
 * returned by elk_wg_allowedips_walk_peer(). addr has cidr-masked bits. */
typedef int (*elk_wg_aip_cb)(void *ctx, int family, const uint8_t *addr,
			     uint8_t cidr);

void elk_wg_allowedips_init(struct elk_wg_allowedips *t);
void elk_wg_allowedips_free(struct elk_wg_allowedips *t);

/* family is AF_INET (addr: 4 bytes) or AF_INET6 (16 bytes), network order.
 * Host bits past cidr are ignored.  -EAFNOSUPPORT, -EINVAL (cidr too long,
 * NULL peer) or -ENOMEM. */
int elk_wg_allowedips_insert(struct elk_wg_allowedips *t, int family,
			     const uint8_t *addr, uint8_t cidr, void *peer);

/* Remove the exact prefix if peer owns it; -ENOENT otherwise. */
int elk_wg_allowedips_remove(struct elk_wg_allowedips *t, int family,
			     const uint8_t *addr, uint8_t cidr, void *peer);

/* Remove every prefix owned by peer; returns how many (>= 0). */
int elk_wg_allowedips_remove_by_peer(struct elk_wg_allowedips *t, void *peer);

/* Owner of the longest prefix containing addr, or NULL. */
void *elk_wg_allowedips_lookup(const struct elk_wg_allowedips *t, int family,
			       const uint8_t *addr);

/* Visit peer's prefixes, IPv4 first, each family in address order. */
int elk_wg_allowedips_walk_peer(const struct elk_wg_allowedips *t, void *peer,
				elk_wg_aip_cb cb, void *ctx);

/* Consistency check of the trie's invariants, for tests: 0 or -EUCLEAN. */
int elk_wg_allowedips_verify(const struct elk_wg_allowedips *t);

#endif
