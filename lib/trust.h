/* trust.h - which facts to believe, and from whom: wirelink's trust model
 * as a pure function, plus the fold of believed facts into peer changes.
 *
 * Specified by ../shared/FACTS-WIRE.md ("Trust"), issue 5 and el-trust(1),
 * after wirelink's trust package. Levels, lowest first:
 *
 *   untrusted < endpoint < allowed-ips < membership
 *
 * A fact is believed when its source's level reaches what the fact needs:
 * endpoint facts need endpoint, allowed_ip facts allowed-ips, member facts
 * membership; alive and unknown attributes need endpoint and are never
 * configuration; a fact about a peer not (yet) on the device needs
 * membership whatever its attribute; a fact about ourselves is never
 * believed. A source's level: its entry in the policy, else the higher of
 * the policy's default and what the device says of it (membership for a
 * router, a peer with an allowed IP shorter than a host prefix, as long as
 * the policy names no peer; endpoint for any other peer on the device).
 *
 * No I/O and no clocks: time comes in as arguments (monotonic seconds for
 * fact expiry), so every decision is table-testable.
 */
#ifndef ELK_TRUST_H
#define ELK_TRUST_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "key.h"
#include "model.h"
#include "records.h"

enum elk_trust_level {
	ELK_TRUST_UNTRUSTED,
	ELK_TRUST_ENDPOINT,
	ELK_TRUST_ALLOWED_IPS,
	ELK_TRUST_MEMBERSHIP,
};
#define ELK_TRUST_LEVELS 4

/* "untrusted", "endpoint", "allowed-ips", "membership". */
const char *elk_trust_level_name(enum elk_trust_level l);
/* 0, or -EINVAL for a name that is not one of the above. */
int elk_trust_level_parse(const char *s, enum elk_trust_level *out);

enum elk_trust_attr {
	ELK_TATTR_ALIVE,
	ELK_TATTR_MEMBER,
	ELK_TATTR_ENDPOINT,
	ELK_TATTR_ALLOWED_IP,
	ELK_TATTR_OTHER, /* "0xHH" or any name el-trust does not know */
};
#define ELK_TATTRS 5

/* One fact record, as much of it as trust needs. */
struct elk_trust_fact {
	enum elk_trust_attr attr;
	uint8_t subject[ELK_KEY_LEN];
	uint8_t source[ELK_KEY_LEN];
	uint32_t ttl;                       /* seconds; 255 when the record has none */
	char endpoint[ELK_ENDPOINT_MAX];    /* ELK_TATTR_ENDPOINT, as the record has it */
	struct elk_cidr allowed;            /* ELK_TATTR_ALLOWED_IP, host bits cleared */
};

/* Parses a "fact" record (subject, attribute, value, ttl, source). 0 or
 * -EINVAL with "FIELD: why" in e. Unknown attribute names are not an error:
 * they parse as ELK_TATTR_OTHER. */
int elk_trust_fact_from_json(const json_t *rec, struct elk_trust_fact *f, struct elk_err *e);

/* Why a fact was believed or not. */
enum elk_trust_rule {
	ELK_TRULE_BELIEVED,
	ELK_TRULE_SELF,            /* the subject is this node */
	ELK_TRULE_ENDPOINT,        /* endpoint fact, source below endpoint */
	ELK_TRULE_ALLOWED_IPS,     /* allowed_ip fact, source below allowed-ips */
	ELK_TRULE_MEMBER,          /* member fact, source below membership */
	ELK_TRULE_INFO,            /* alive/unknown attribute, source below endpoint */
	ELK_TRULE_NEW_SUBJECT,     /* subject not on the device, source below membership */
};

/* The rule as --explain prints it, e.g. "endpoint facts need a source
 * trusted at endpoint or above". */
const char *elk_trust_rule_text(enum elk_trust_rule r);
/* A short name for tests and scripts: "believed", "self", "endpoint",
 * "allowed-ips", "member", "info", "new-subject". */
const char *elk_trust_rule_name(enum elk_trust_rule r);

/* The level an attribute needs, before the subject rule. */
enum elk_trust_level elk_trust_needed(enum elk_trust_attr a);

struct elk_trust_entry {
	uint8_t key[ELK_KEY_LEN];
	enum elk_trust_level level;
};

struct elk_trust_policy {
	enum elk_trust_level def;       /* floor for every source; untrusted */
	struct elk_trust_entry *peers;  /* explicit levels, which win */
	size_t n_peers;
};

/* Parses a policy document:
 *   {"default":"untrusted","peers":{"<base64 key>":"membership",...}}
 * Both keys optional; any other key, a bad key or a bad level is -EINVAL
 * with the offending key named in e. p starts empty. */
int elk_trust_policy_from_json(const json_t *doc, struct elk_trust_policy *p, struct elk_err *e);
void elk_trust_policy_clear(struct elk_trust_policy *p);

/* True when p routes a network: an allowed IP shorter than a host prefix. */
bool elk_trust_peer_is_router(const struct elk_peer *p);

/* The level of source under policy and device d (either may be NULL). */
enum elk_trust_level elk_trust_source_level(const struct elk_trust_policy *policy,
					    const struct elk_device *d,
					    const uint8_t source[ELK_KEY_LEN]);

/* The decision itself, given what the device says: the first rule that
 * rejects f, or ELK_TRULE_BELIEVED. self may be NULL (unknown). Rules are
 * tried in order: self, attribute, new subject. */
enum elk_trust_rule elk_trust_decide(const struct elk_trust_fact *f, const uint8_t *self,
				     enum elk_trust_level source_level, bool subject_known);

/* elk_trust_decide with the level and subject looked up in policy and d. */
enum elk_trust_rule elk_trust_judge(const struct elk_trust_policy *policy,
				    const struct elk_device *d, const uint8_t *self,
				    const struct elk_trust_fact *f);

/* The fold: believed configuration facts with their expiry, and the peer
 * set el-trust has asked for so far. Trust of a source is always taken from
 * the device as configured by other means (read at init and at each
 * rebase), never from peers the fold added nor from allowed IPs it gave,
 * so trust cannot grow by facts alone; whether a subject is known is taken
 * from the device plus the fold's own changes. Only peers the fold added
 * are ever removed.
 *
 * Health (wirelink's rule, with the alive fact as the proof): when stale is
 * set, allowed IPs that facts give a peer are configured only while that
 * peer is healthy, that is while facts from it (any fact whose source it
 * is: el-facts gossip accepts those only over its own tunnel) arrived less
 * than stale seconds ago. An unhealthy peer keeps what was configured by
 * other means and its link-local address, so gossip goes on trying it, and
 * its traffic takes the longest prefix left, such as a router's network.
 * While it is unhealthy and without a recent handshake, its endpoint moves
 * every try_every seconds to the vouched candidate least recently tried.
 * Every peer the fold writes allowed IPs for keeps its key-derived
 * link-local address (el-keygen addr --ll). */
struct elk_trust_stored {
	struct elk_trust_fact f;
	int64_t expires; /* monotonic seconds */
	uint64_t seq;    /* arrival order: the newest endpoint is tried first */
	int64_t tried;   /* ELK_TATTR_ENDPOINT: when the fold last set it, or -1 */
};

struct elk_trust_view {
	uint8_t key[ELK_KEY_LEN];
	bool on_device;           /* as the device will be after our records */
	bool added;               /* on_device because of us */
	bool connected;           /* a recent handshake when the device was read */
	bool healthy;             /* as of the last sync */
	int64_t heard;            /* last fact from it (monotonic seconds), or -1 */
	int64_t endpoint_set;     /* when the fold last set its endpoint, or -1 */
	struct elk_cidr *base_ips; /* configured by other means: never taken away */
	size_t n_base_ips;
	struct elk_cidr *ips;     /* what the device has, as far as we know */
	size_t n_ips;
	char endpoint[ELK_ENDPOINT_MAX];
};

struct elk_trust_fold {
	const struct elk_trust_policy *policy; /* borrowed */
	uint8_t self[ELK_KEY_LEN];
	bool have_self;
	int64_t stale;     /* seconds; 0 (the default after init): every peer healthy */
	int64_t try_every; /* seconds; 0 (the default): no endpoint rotation */
	/* Called by sync when a peer's health changes what it gets: healthy
	 * (its facts' allowed IPs go in) or not (withdrawn); silent is the
	 * seconds since it was last heard, -1 never. Optional. */
	void (*on_health)(void *arg, const uint8_t key[ELK_KEY_LEN], bool healthy,
			  int64_t silent);
	void *arg;
	struct elk_trust_stored *facts;
	size_t n_facts, cap_facts;
	struct elk_trust_view *views;
	size_t n_views, cap_views;
	uint64_t seq;
};

/* base_wall: Unix time at which base was read, to tell which of its peers
 * had a recent handshake (their endpoints are left alone). self may be
 * NULL. stale and try_every start at 0: set them after init. 0 or -ENOMEM. */
int elk_trust_fold_init(struct elk_trust_fold *t, const struct elk_trust_policy *policy,
			const struct elk_device *base, const uint8_t *self, int64_t base_wall);
void elk_trust_fold_free(struct elk_trust_fold *t);

/* The device read again (at Unix time wall): peers configured by other
 * means since are trusted as such, those removed are no longer (and peers
 * the fold added that are gone are added again at the next sync if facts
 * still make them members), handshakes are updated. Allowed IPs the fold
 * gave a configured peer never become its configuration. 0 or -ENOMEM. */
int elk_trust_fold_rebase(struct elk_trust_fold *t, const struct elk_device *d, int64_t wall);

/* The level of source as the fold judges it: the policy, and the device as
 * configured by other means (never peers the fold added). */
enum elk_trust_level elk_trust_fold_source_level(const struct elk_trust_fold *t,
						 const uint8_t source[ELK_KEY_LEN]);

/* Notes that a fact from source arrived at now (whatever it says and
 * whether or not it is believed): the tunnel to source works. 0 or -ENOMEM. */
int elk_trust_fold_heard(struct elk_trust_fold *t, const uint8_t source[ELK_KEY_LEN], int64_t now);

/* Judges f now; a believed endpoint, allowed_ip or member fact is stored
 * (a re-announcement refreshes its expiry) until now + ttl. Returns the
 * rule, or -ENOMEM. */
int elk_trust_fold_add(struct elk_trust_fold *t, const struct elk_trust_fact *f, int64_t now);

/* Drops facts expired at now, re-judges the rest and appends to out (a JSON
 * array) the `peer` records that bring the device to the believed peer set:
 * new members, changed allowed IPs (replace_allowed_ips), endpoints for
 * peers without a recent handshake whose endpoint no fact vouches for (and,
 * with try_every, the next candidate for an unhealthy one), removals of
 * peers the fold added. 0 or -ENOMEM. */
int elk_trust_fold_sync(struct elk_trust_fold *t, int64_t now, json_t *out);

/* Monotonic second at which a sync may next have something to say with no
 * new input (a fact expires, a peer turns stale, an endpoint is due for a
 * change), or -1. */
int64_t elk_trust_fold_next_event(const struct elk_trust_fold *t);

#endif
