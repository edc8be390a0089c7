/* facts_wire.h - wirelink's facts on the wire: one fact, signed groups of
 * facts, and fact records as JSON.
 *
 * Specified by wirelink's PROTOCOL.md (fastcat/wirelink) and restated in
 * ../shared/FACTS-WIRE.md; where they differ, PROTOCOL.md wins. One fact is
 *
 *   attribute (1 byte) | ttl (uvarint, <= 65535) | subject (32-byte key) | value
 *
 * and only signed groups ('S') travel at top level: ttl 0, subject = the
 * signer's public key, value = 24-byte nonce | 16-byte tag | inner facts to
 * the end of the datagram. The tag is XChaCha20-Poly1305 under the raw X25519
 * secret of signer and recipient, over an empty plaintext with the inner
 * facts as associated data.
 *
 * A pure codec: no sockets, no files, no clocks (only random nonces).
 * Decoding is strict where wirelink's own encoder is: varints must be
 * minimal, a member-metadata item may appear once, an IPv4-mapped endpoint
 * must use 'e', so that decoding then encoding gives the same bytes.
 *
 * Errors: -EINVAL for malformed input (with "why" in e), -EBADMSG when a
 * group fails authentication (tag or source address), -ENOSPC/-EMSGSIZE
 * from the packer as documented there.
 */
#ifndef ELK_FACTS_WIRE_H
#define ELK_FACTS_WIRE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "key.h"
#include "records.h"

/* The largest UDP payload wirelink sends (safe over IPv6 without
 * fragmentation); we accept nothing larger. */
#define ELK_FACTS_DGRAM_MAX 1212
#define ELK_FACTS_NONCE_LEN 24
#define ELK_FACTS_TAG_LEN 16
/* Worst-case group header: attribute, a 3-byte ttl varint, the key. */
#define ELK_FACTS_GROUP_FACT_OVERHEAD (1 + 3 + ELK_KEY_LEN)
/* 1212 - 36 - 40 = 1136: what a sender may put into one group. */
#define ELK_FACTS_GROUP_INNER_MAX                                  \
	(ELK_FACTS_DGRAM_MAX - ELK_FACTS_GROUP_FACT_OVERHEAD - \
	 ELK_FACTS_NONCE_LEN - ELK_FACTS_TAG_LEN)
/* The shortest group: 'S', ttl 0 in one byte, key, nonce, tag. */
#define ELK_FACTS_GROUP_MIN (1 + 1 + ELK_KEY_LEN + ELK_FACTS_NONCE_LEN + ELK_FACTS_TAG_LEN)
/* The shortest fact: attribute, one-byte ttl, subject. */
#define ELK_FACT_HDR_MIN (1 + 1 + ELK_KEY_LEN)
/* No value can be longer than what is left of the largest datagram. */
#define ELK_FACT_VALUE_MAX (ELK_FACTS_DGRAM_MAX - ELK_FACTS_GROUP_MIN - ELK_FACT_HDR_MIN)

#define ELK_FACT_TTL_MAX 65535
/* wirelink's default, used when a fact record has no ttl. */
#define ELK_FACT_TTL_DEFAULT 255
#define ELK_FACT_BOOT_ID_LEN 16

/* Attribute bytes, as wirelink names them. */
enum {
	ELK_FACT_ALIVE = '!',        /* 16-byte boot id */
	ELK_FACT_MEMBER = 'm',       /* empty (old form) */
	ELK_FACT_MEMBER_META = 'M',  /* uvarint length, then items */
	ELK_FACT_ENDPOINT_V4 = 'e',  /* 4-byte address, 2-byte port, BE */
	ELK_FACT_ENDPOINT_V6 = 'E',  /* 16-byte address, 2-byte port */
	ELK_FACT_ALLOWED_V4 = 'a',   /* 4-byte network, 1-byte prefix length */
	ELK_FACT_ALLOWED_V6 = 'A',   /* 16-byte network, 1-byte prefix length */
	ELK_FACT_SIGNED_GROUP = 'S', /* only at top level */
};

/* Member-metadata item bytes. */
enum {
	ELK_META_NAME = 'n',  /* display name, UTF-8 */
	ELK_META_BASIC = 'b', /* one byte, 0 or 1: runs WireGuard only */
};

/* Member metadata keeps its items as they travel ({attr, uvarint len,
 * bytes} each, without the leading total length), so unknown items survive
 * a round trip; elk_fact_meta_next() walks them. */
struct elk_fact_meta {
	size_t len;
	uint8_t items[ELK_FACT_VALUE_MAX];
};

struct elk_fact_meta_item {
	uint8_t attr;
	const uint8_t *data;
	size_t len;
};

/* One decoded fact. attr decides which member of v is meaningful; an
 * attribute this codec does not know keeps its value as raw bytes. */
struct elk_fact {
	uint8_t attr;
	uint32_t ttl; /* seconds; wider than the wire so that a bad value can be caught */
	uint8_t subject[ELK_KEY_LEN];
	union {
		uint8_t boot_id[ELK_FACT_BOOT_ID_LEN]; /* '!' */
		struct {
			uint8_t addr[16]; /* first 4 bytes for 'e' */
			uint16_t port;
		} endpoint;                            /* 'e', 'E' */
		struct elk_cidr allowed;               /* 'a', 'A' (family must match) */
		struct elk_fact_meta meta;             /* 'M' */
		struct {
			size_t len;
			uint8_t bytes[ELK_FACT_VALUE_MAX];
		} raw; /* unknown attribute: the value runs to the end of its group */
	} v;
};

/* True for the attributes this codec decodes into fields ('S' included). */
bool elk_fact_attr_known(uint8_t attr);
/* The record name of an attribute: "alive", "member", "endpoint",
 * "allowed_ip"; NULL for 'S' and unknown bytes. */
const char *elk_fact_attr_name(uint8_t attr);

/* Parses one fact (never 'S') from p[0..n): 0 with *used set, or -EINVAL.
 * An unknown attribute takes all of p as its value (the format gives it no
 * length), so it can only be the last fact of a group. */
int elk_fact_parse(const uint8_t *p, size_t n, struct elk_fact *f, size_t *used,
		   struct elk_err *e);
/* Checks what elk_fact_parse would check, on a fact built in memory. */
int elk_fact_check(const struct elk_fact *f, struct elk_err *e);
/* Writes f to out: 0 and *len, -ENOSPC (with *len = the size needed) when
 * cap is too small, -EINVAL for an invalid fact. */
int elk_fact_put(const struct elk_fact *f, uint8_t *out, size_t cap, size_t *len,
		 struct elk_err *e);

/* Walks member-metadata items: 1 and *it, or 0 at the end. Items were
 * checked on the way in, so this cannot fail. */
int elk_fact_meta_next(const struct elk_fact_meta *m, size_t *off, struct elk_fact_meta_item *it);

/* A signed group, split but not yet trusted. inner points into the
 * datagram given to elk_facts_group_parse(). */
struct elk_facts_group {
	uint8_t source[ELK_KEY_LEN];
	uint8_t nonce[ELK_FACTS_NONCE_LEN];
	uint8_t tag[ELK_FACTS_TAG_LEN];
	const uint8_t *inner;
	size_t inner_len;
};

/* Splits a datagram: 0, or -EINVAL when it is not one well-formed signed
 * group (too long, too short, a bare fact, a bad ttl). */
int elk_facts_group_parse(const uint8_t *d, size_t n, struct elk_facts_group *g,
			  struct elk_err *e);
/* 0 when src (the datagram's IPv6 source) is the link-local address of the
 * signer's key, else -EBADMSG. */
int elk_facts_group_check_source(const struct elk_facts_group *g, const uint8_t src[16],
				 struct elk_err *e);
/* 0 when the tag verifies under X25519(own_priv, source), else -EBADMSG. */
int elk_facts_group_verify(const struct elk_facts_group *g, const uint8_t own_priv[ELK_KEY_LEN],
			   struct elk_err *e);

/* Inner facts one by one: 1 and *f, 0 at the end, -EINVAL for a corrupt
 * fact or a nested group, which ends the group (facts already returned
 * stay good, as wirelink keeps them). */
struct elk_facts_iter {
	const uint8_t *p;
	size_t len, off;
	unsigned index;
	bool done;
};
void elk_facts_iter_init(struct elk_facts_iter *it, const struct elk_facts_group *g);
int elk_facts_iter_next(struct elk_facts_iter *it, struct elk_fact *f, struct elk_err *e);

/* Signs inner (at most ELK_FACTS_GROUP_INNER_MAX bytes) from own_priv to
 * peer_pub with a random nonce: 0 and the datagram in out[0..*len), or
 * -EINVAL (too long, a key that gives no shared secret). */
int elk_facts_group_seal(uint8_t out[ELK_FACTS_DGRAM_MAX], size_t *len,
			 const uint8_t own_priv[ELK_KEY_LEN], const uint8_t peer_pub[ELK_KEY_LEN],
			 const uint8_t *inner, size_t inner_len, struct elk_err *e);
/* The same with a given nonce, for known-answer tests. */
int elk_facts_group_seal_nonce(uint8_t out[ELK_FACTS_DGRAM_MAX], size_t *len,
			       const uint8_t own_priv[ELK_KEY_LEN],
			       const uint8_t peer_pub[ELK_KEY_LEN],
			       const uint8_t nonce[ELK_FACTS_NONCE_LEN], const uint8_t *inner,
			       size_t inner_len, struct elk_err *e);

/* Packs facts into groups of at most ELK_FACTS_GROUP_INNER_MAX bytes, in
 * order. elk_facts_pack() returns 0 when f was added, -ENOSPC when the
 * current group cannot take it (seal inner[0..len), reset, add again),
 * -EMSGSIZE when f alone exceeds a group, -EINVAL for an invalid fact. A
 * fact with an unknown attribute closes its group: its value runs to the
 * end. */
struct elk_facts_packer {
	size_t len;
	bool closed;
	uint8_t inner[ELK_FACTS_GROUP_INNER_MAX];
};
void elk_facts_packer_reset(struct elk_facts_packer *p);
int elk_facts_pack(struct elk_facts_packer *p, const struct elk_fact *f, struct elk_err *e);

/* {"type":"fact","subject":..,"attribute":..,"value":..,"ttl":N[,"source":..]};
 * source may be NULL. NULL when out of memory. The value mapping is in
 * el-facts(1). */
json_t *elk_fact_to_json(const struct elk_fact *f, const uint8_t source[ELK_KEY_LEN]);
/* The reverse: 0, or -EINVAL with "field: why" in e. source is ignored
 * (the signer is whoever seals the group). */
int elk_fact_from_json(const json_t *rec, struct elk_fact *f, struct elk_err *e);

#endif
