/* facts_local.h - what this node knows about itself and its peers, as
 * wirelink's facts (wirelink's PROTOCOL.md, ../shared/FACTS-WIRE.md; the
 * record form is el-facts(1)'s).
 *
 * A node's local facts, as wirelink gathers them:
 *   - endpoint, subject us: every address of every up interface that is not
 *     a WireGuard one (the device itself, kernel links of kind "wireguard",
 *     userspace devices serving a UAPI socket), with our listen port;
 *     loopback and IPv6 link-local addresses are left out (no peer can
 *     reach them), include/exclude globs pick interfaces by name;
 *   - endpoint, subject a peer: the peer's current endpoint, when its
 *     handshake is "healthy" (under 165 s old);
 *   - member (the old, empty form 'm'), subject a peer: every peer on the
 *     device; receivers believe it from routers only (el-trust);
 *   - allowed_ip, subject a peer: the peer's allowed IPs on our device,
 *     except its link-local /128 (every node derives that itself) — this is
 *     how a router tells its peers where the members behind it are;
 *   - allowed_ip, subject us: the networks given as routes (--route);
 *     interface addresses are not announced as routes, since an address
 *     on an interface says nothing about forwarding;
 *   - alive, subject us: the boot id.
 */
#ifndef ELK_FACTS_LOCAL_H
#define ELK_FACTS_LOCAL_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "facts_wire.h"
#include "model.h"

/* wirelink: 120 s (REKEY) + 5 + 10 + 30 s of slack. */
#define ELK_FACTS_HEALTHY_SEC 165

struct elk_facts_local_opts {
	const char *ifname;           /* the WireGuard device itself */
	const char *const *include;   /* globs; NULL or empty = every interface */
	size_t n_include;
	const char *const *exclude;
	size_t n_exclude;
	const struct elk_cidr *routes; /* networks we route, announced as ours */
	size_t n_routes;
	uint32_t ttl;
	uint8_t boot_id[ELK_FACT_BOOT_ID_LEN];
};

/* A growing array of facts. */
struct elk_facts_list {
	struct elk_fact *v;
	size_t n, cap;
};
int elk_facts_list_add(struct elk_facts_list *l, const struct elk_fact *f);
void elk_facts_list_free(struct elk_facts_list *l);

/* Reads the device ifname (userspace through its UAPI socket, else the
 * kernel's) into d, which starts empty: 0, or -errno with e set. */
int elk_facts_read_device(const char *ifname, struct elk_device *d, struct elk_err *e);

/* Appends our facts (dev as read from the device, now in Unix seconds) to
 * out: 0 or -errno (-ENOMEM, getifaddrs failing) with e set. */
int elk_facts_local(const struct elk_device *dev, const struct elk_facts_local_opts *o,
		    int64_t now, struct elk_facts_list *out, struct elk_err *e);

/* One endpoint fact from "IP:PORT" / "[IPv6]:PORT": 0 or -EINVAL (a host
 * name, say). IPv4-mapped IPv6 addresses become 'e', as wirelink wants. */
int elk_facts_endpoint(struct elk_fact *f, const uint8_t subject[ELK_KEY_LEN],
		       const char *endpoint, uint32_t ttl);

#endif
