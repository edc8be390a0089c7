/* facts_wire.c - wirelink's facts wire format: facts, signed groups, and
 * their JSON records.
 *
 * Implements the on-wire format of wirelink's PROTOCOL.md ("On-Wire Format",
 * "Attributes", "Signed Groups"; fastcat/wirelink), as summarised in
 * ../shared/FACTS-WIRE.md: attribute byte, uvarint ttl, 32-byte subject,
 * value; signed groups with an XChaCha20-Poly1305 tag over the inner facts.
 * The JSON mapping of values is ours and documented in el-facts(1).
 */
#include "facts_wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* uvarint, as Go's encoding/binary and protobuf write it. */
#define UVARINT_MAX_LEN 10

enum uv_result { UV_OK, UV_SHORT, UV_OVERLONG, UV_OVERFLOW };

/* Minimal encodings only: wirelink never writes padded varints, and
 * accepting them would make two byte strings decode to one fact. */
static enum uv_result get_uvarint(const uint8_t *p, size_t n, uint64_t *v, size_t *used)
{
	uint64_t x = 0;

	for (size_t i = 0; i < n && i < UVARINT_MAX_LEN; i++) {
		uint8_t b = p[i];

		if (i == UVARINT_MAX_LEN - 1 && b > 1)
			return UV_OVERFLOW;
		x |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			if (b == 0 && i > 0)
				return UV_OVERLONG;
			*v = x;
			*used = i + 1;
			return UV_OK;
		}
	}
	return n < UVARINT_MAX_LEN ? UV_SHORT : UV_OVERFLOW;
}

static size_t put_uvarint(uint8_t *out, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		out[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	out[n++] = (uint8_t)v;
	return n;
}

static size_t uvarint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static int uv_err(struct elk_err *e, const char *field, enum uv_result r)
{
	switch (r) {
	case UV_SHORT:
		return elk_errf(e, "%s: truncated varint", field);
	case UV_OVERLONG:
		return elk_errf(e, "%s: varint not in its shortest form", field);
	default:
		return elk_errf(e, "%s: varint overflows 64 bits", field);
	}
}

/* Strict UTF-8 as Go's utf8.ValidString sees it: no overlong forms, no
 * surrogates, nothing above U+10FFFF. */
static bool utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		size_t k;
		uint32_t cp, min;

		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			k = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			k = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			k = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (n - i - 1 < k)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

bool elk_fact_attr_known(uint8_t attr)
{
	switch (attr) {
	case ELK_FACT_ALIVE:
	case ELK_FACT_MEMBER:
	case ELK_FACT_MEMBER_META:
	case ELK_FACT_ENDPOINT_V4:
	case ELK_FACT_ENDPOINT_V6:
	case ELK_FACT_ALLOWED_V4:
	case ELK_FACT_ALLOWED_V6:
	case ELK_FACT_SIGNED_GROUP:
		return true;
	}
	return false;
}

const char *elk_fact_attr_name(uint8_t attr)
{
	switch (attr) {
	case ELK_FACT_ALIVE:
		return "alive";
	case ELK_FACT_MEMBER:
	case ELK_FACT_MEMBER_META:
		return "member";
	case ELK_FACT_ENDPOINT_V4:
	case ELK_FACT_ENDPOINT_V6:
		return "endpoint";
	case ELK_FACT_ALLOWED_V4:
	case ELK_FACT_ALLOWED_V6:
		return "allowed_ip";
	}
	return NULL;
}

/* The fixed value length of an attribute, or -1 when it has none. */
static int fixed_len(uint8_t attr)
{
	switch (attr) {
	case ELK_FACT_ALIVE:
		return ELK_FACT_BOOT_ID_LEN;
	case ELK_FACT_MEMBER:
		return 0;
	case ELK_FACT_ENDPOINT_V4:
		return 4 + 2;
	case ELK_FACT_ENDPOINT_V6:
		return 16 + 2;
	case ELK_FACT_ALLOWED_V4:
		return 4 + 1;
	case ELK_FACT_ALLOWED_V6:
		return 16 + 1;
	}
	return -1;
}

static bool v4_mapped(const uint8_t a[16])
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(a, prefix, sizeof(prefix)) == 0;
}

/* Checks member-metadata items: well-formed, each item once, the known ones
 * valid. Unknown items pass (wirelink keeps and re-sends them). */
static int meta_check(const uint8_t *p, size_t n, struct elk_err *e)
{
	uint8_t seen[256 / 8] = { 0 };
	size_t off = 0;

	while (off < n) {
		uint8_t a = p[off];
		uint64_t len;
		size_t used;
		enum uv_result r;

		if (seen[a / 8] & (1u << (a % 8)))
			return elk_errf(e, "member: item 0x%02x appears twice", a);
		seen[a / 8] |= (uint8_t)(1u << (a % 8));
		off++;
		if ((r = get_uvarint(p + off, n - off, &len, &used)) != UV_OK)
			return uv_err(e, "member: item length", r);
		off += used;
		if (len > n - off)
			return elk_errf(e, "member: item 0x%02x of %llu bytes, only %zu left", a,
					(unsigned long long)len, n - off);
		if (a == ELK_META_NAME && !utf8_valid(p + off, (size_t)len))
			return elk_errf(e, "member: name is not valid UTF-8");
		if (a == ELK_META_BASIC && (len != 1 || p[off] > 1))
			return elk_errf(e, "member: basic must be one byte, 0 or 1");
		off += (size_t)len;
	}
	return 0;
}

int elk_fact_meta_next(const struct elk_fact_meta *m, size_t *off, struct elk_fact_meta_item *it)
{
	uint64_t len;
	size_t used;

	if (*off >= m->len)
		return 0;
	it->attr = m->items[*off];
	(*off)++;
	/* Items were checked when they came in; stop rather than overrun
	 * should someone hand us unchecked ones. */
	if (get_uvarint(m->items + *off, m->len - *off, &len, &used) != UV_OK ||
	    len > m->len - *off - used) {
		*off = m->len;
		return 0;
	}
	*off += used;
	it->data = m->items + *off;
	it->len = (size_t)len;
	*off += (size_t)len;
	return 1;
}

/* Clears all but the big value buffers, which are always written with
 * their length before they are read. */
static void clear_fact(struct elk_fact *f)
{
	_Static_assert(sizeof(f->v.allowed) >= sizeof(f->v.endpoint) &&
			       sizeof(f->v.allowed) >= sizeof(f->v.boot_id),
		       "allowed is the largest small value");
	memset(f, 0, offsetof(struct elk_fact, v) + sizeof(f->v.allowed));
}

int elk_fact_parse(const uint8_t *p, size_t n, struct elk_fact *f, size_t *used,
		   struct elk_err *e)
{
	const char *name;
	char code[16];
	uint64_t ttl, mlen;
	size_t off = 1, u, left;
	enum uv_result r;
	int fl;

	clear_fact(f);
	if (n == 0)
		return elk_errf(e, "empty fact");
	f->attr = p[0];
	if (f->attr == ELK_FACT_SIGNED_GROUP)
		return elk_errf(e, "a signed group inside a signed group");
	name = elk_fact_attr_name(f->attr);
	if (!name) {
		snprintf(code, sizeof(code), "attribute 0x%02x", f->attr);
		name = code;
	}
	if ((r = get_uvarint(p + off, n - off, &ttl, &u)) != UV_OK)
		return uv_err(e, "ttl", r);
	if (ttl > ELK_FACT_TTL_MAX)
		return elk_errf(e, "ttl: %llu is over %d", (unsigned long long)ttl,
				ELK_FACT_TTL_MAX);
	f->ttl = (uint32_t)ttl;
	off += u;
	if (n - off < ELK_KEY_LEN)
		return elk_errf(e, "%s: subject: %zu bytes, need %d", name, n - off, ELK_KEY_LEN);
	memcpy(f->subject, p + off, ELK_KEY_LEN);
	off += ELK_KEY_LEN;
	left = n - off;

	fl = fixed_len(f->attr);
	if (fl >= 0 && left < (size_t)fl)
		return elk_errf(e, "%s: value: %zu bytes, need %d", name, left, fl);
	switch (f->attr) {
	case ELK_FACT_ALIVE:
		memcpy(f->v.boot_id, p + off, ELK_FACT_BOOT_ID_LEN);
		break;
	case ELK_FACT_MEMBER:
		break;
	case ELK_FACT_ENDPOINT_V4:
	case ELK_FACT_ENDPOINT_V6: {
		size_t al = f->attr == ELK_FACT_ENDPOINT_V4 ? 4 : 16;

		memcpy(f->v.endpoint.addr, p + off, al);
		f->v.endpoint.port = (uint16_t)(p[off + al] << 8 | p[off + al + 1]);
		if (al == 16 && v4_mapped(f->v.endpoint.addr))
			return elk_errf(e, "endpoint: an IPv4-mapped address must be sent as 'e'");
		break;
	}
	case ELK_FACT_ALLOWED_V4:
	case ELK_FACT_ALLOWED_V6: {
		size_t al = f->attr == ELK_FACT_ALLOWED_V4 ? 4 : 16;

		f->v.allowed.family = al == 4 ? AF_INET : AF_INET6;
		memcpy(f->v.allowed.addr, p + off, al);
		f->v.allowed.len = p[off + al];
		if (f->v.allowed.len > al * 8)
			return elk_errf(e, "allowed_ip: prefix length %u is over %zu",
					f->v.allowed.len, al * 8);
		break;
	}
	case ELK_FACT_MEMBER_META:
		if ((r = get_uvarint(p + off, left, &mlen, &u)) != UV_OK)
			return uv_err(e, "member: length", r);
		off += u;
		left -= u;
		if (mlen > left)
			return elk_errf(e, "member: value: %zu bytes, need %llu", left,
					(unsigned long long)mlen);
		if (mlen > sizeof(f->v.meta.items))
			return elk_errf(e, "member: value of %llu bytes is too long",
					(unsigned long long)mlen);
		if (meta_check(p + off, (size_t)mlen, e) < 0)
			return -EINVAL;
		f->v.meta.len = (size_t)mlen;
		memcpy(f->v.meta.items, p + off, (size_t)mlen);
		off += (size_t)mlen;
		*used = off;
		return 0;
	default:
		/* Nothing tells where an unknown value ends; it is the rest. */
		if (left > sizeof(f->v.raw.bytes))
			return elk_errf(e, "attribute 0x%02x: value of %zu bytes is too long",
					f->attr, left);
		f->v.raw.len = left;
		memcpy(f->v.raw.bytes, p + off, left);
		*used = n;
		return 0;
	}
	*used = off + (size_t)fl;
	return 0;
}

int elk_fact_check(const struct elk_fact *f, struct elk_err *e)
{
	if (f->attr == ELK_FACT_SIGNED_GROUP)
		return elk_errf(e, "attribute: a signed group is not a fact to send");
	if (f->ttl > ELK_FACT_TTL_MAX)
		return elk_errf(e, "ttl: %u is over %d", f->ttl, ELK_FACT_TTL_MAX);
	switch (f->attr) {
	case ELK_FACT_ENDPOINT_V6:
		if (v4_mapped(f->v.endpoint.addr))
			return elk_errf(e, "endpoint: an IPv4-mapped address must be sent as 'e'");
		break;
	case ELK_FACT_ALLOWED_V4:
	case ELK_FACT_ALLOWED_V6: {
		int fam = f->attr == ELK_FACT_ALLOWED_V4 ? AF_INET : AF_INET6;

		if (f->v.allowed.family != fam)
			return elk_errf(e, "allowed_ip: address family does not match the attribute");
		if (f->v.allowed.len > elk_family_bits(fam))
			return elk_errf(e, "allowed_ip: prefix length %u is over %u",
					f->v.allowed.len, elk_family_bits(fam));
		break;
	}
	case ELK_FACT_MEMBER_META:
		if (f->v.meta.len > sizeof(f->v.meta.items))
			return elk_errf(e, "member: value too long");
		return meta_check(f->v.meta.items, f->v.meta.len, e);
	default:
		if (!elk_fact_attr_known(f->attr) && f->v.raw.len > sizeof(f->v.raw.bytes))
			return elk_errf(e, "value: too long");
	}
	return 0;
}

static size_t value_len(const struct elk_fact *f)
{
	int fl = fixed_len(f->attr);

	if (fl >= 0)
		return (size_t)fl;
	if (f->attr == ELK_FACT_MEMBER_META)
		return uvarint_len(f->v.meta.len) + f->v.meta.len;
	return f->v.raw.len;
}

int elk_fact_put(const struct elk_fact *f, uint8_t *out, size_t cap, size_t *len,
		 struct elk_err *e)
{
	size_t need, off = 0;

	if (elk_fact_check(f, e) < 0)
		return -EINVAL;
	need = 1 + uvarint_len(f->ttl) + ELK_KEY_LEN + value_len(f);
	*len = need;
	if (cap < need) {
		elk_errf(e, "fact of %zu bytes does not fit in %zu", need, cap);
		return -ENOSPC;
	}
	out[off++] = f->attr;
	off += put_uvarint(out + off, f->ttl);
	memcpy(out + off, f->subject, ELK_KEY_LEN);
	off += ELK_KEY_LEN;
	switch (f->attr) {
	case ELK_FACT_ALIVE:
		memcpy(out + off, f->v.boot_id, ELK_FACT_BOOT_ID_LEN);
		break;
	case ELK_FACT_MEMBER:
		break;
	case ELK_FACT_ENDPOINT_V4:
	case ELK_FACT_ENDPOINT_V6: {
		size_t al = f->attr == ELK_FACT_ENDPOINT_V4 ? 4 : 16;

		memcpy(out + off, f->v.endpoint.addr, al);
		out[off + al] = (uint8_t)(f->v.endpoint.port >> 8);
		out[off + al + 1] = (uint8_t)f->v.endpoint.port;
		break;
	}
	case ELK_FACT_ALLOWED_V4:
	case ELK_FACT_ALLOWED_V6: {
		size_t al = f->attr == ELK_FACT_ALLOWED_V4 ? 4 : 16;

		memcpy(out + off, f->v.allowed.addr, al);
		out[off + al] = f->v.allowed.len;
		break;
	}
	case ELK_FACT_MEMBER_META:
		off += put_uvarint(out + off, f->v.meta.len);
		memcpy(out + off, f->v.meta.items, f->v.meta.len);
		break;
	default:
		memcpy(out + off, f->v.raw.bytes, f->v.raw.len);
	}
	return 0;
}

/* Signed groups */

static int bad_group(struct elk_err *e, const char *why, size_t n)
{
	return elk_errf(e, "%s: %zu bytes, a signed group needs at least %d", why, n,
			ELK_FACTS_GROUP_MIN);
}

int elk_facts_group_parse(const uint8_t *d, size_t n, struct elk_facts_group *g,
			  struct elk_err *e)
{
	uint64_t ttl;
	size_t off = 1, u;
	enum uv_result r;

	memset(g, 0, sizeof(*g));
	if (n == 0)
		return elk_errf(e, "empty datagram");
	if (n > ELK_FACTS_DGRAM_MAX)
		return elk_errf(e, "datagram of %zu bytes is over %d", n, ELK_FACTS_DGRAM_MAX);
	if (d[0] != ELK_FACT_SIGNED_GROUP)
		return elk_errf(e, "attribute 0x%02x at top level: only signed groups ('S') "
				"are accepted there", d[0]);
	/* The group's ttl means nothing, but it must still be a valid one. */
	if ((r = get_uvarint(d + off, n - off, &ttl, &u)) != UV_OK) {
		if (r == UV_SHORT)
			return bad_group(e, "truncated", n);
		return uv_err(e, "group ttl", r);
	}
	if (ttl > ELK_FACT_TTL_MAX)
		return elk_errf(e, "group ttl: %llu is over %d", (unsigned long long)ttl,
				ELK_FACT_TTL_MAX);
	off += u;
	if (n - off < ELK_KEY_LEN + ELK_FACTS_NONCE_LEN + ELK_FACTS_TAG_LEN)
		return bad_group(e, "truncated", n);
	memcpy(g->source, d + off, ELK_KEY_LEN);
	off += ELK_KEY_LEN;
	memcpy(g->nonce, d + off, ELK_FACTS_NONCE_LEN);
	off += ELK_FACTS_NONCE_LEN;
	memcpy(g->tag, d + off, ELK_FACTS_TAG_LEN);
	off += ELK_FACTS_TAG_LEN;
	g->inner = d + off;
	g->inner_len = n - off;
	return 0;
}

int elk_facts_group_check_source(const struct elk_facts_group *g, const uint8_t src[16],
				 struct elk_err *e)
{
	uint8_t want[16];
	char got_s[INET6_ADDRSTRLEN], want_s[INET6_ADDRSTRLEN];

	elk_addr_ll_from_key(g->source, want);
	if (memcmp(want, src, sizeof(want)) == 0)
		return 0;
	inet_ntop(AF_INET6, src, got_s, sizeof(got_s));
	inet_ntop(AF_INET6, want, want_s, sizeof(want_s));
	elk_errf(e, "source: %s is not %s, the link-local address of the signer's key", got_s,
		 want_s);
	return -EBADMSG;
}

int elk_facts_group_verify(const struct elk_facts_group *g, const uint8_t own_priv[ELK_KEY_LEN],
			   struct elk_err *e)
{
	uint8_t key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	/* libsodium wants somewhere to write the (empty) plaintext. */
	uint8_t none[1];
	int r;

	/* X25519 ignores the top bit of a public key, so without this check
	 * two subjects would verify the same tag; no key generator makes such
	 * a key. */
	if (g->source[ELK_KEY_LEN - 1] & 0x80) {
		elk_errf(e, "signature: the signer's key has its top bit set, which no "
			 "public key has");
		return -EBADMSG;
	}
	if (crypto_scalarmult_curve25519(key, own_priv, g->source) != 0) {
		sodium_memzero(key, sizeof(key));
		elk_errf(e, "signature: the signer's key is a low-order point");
		return -EBADMSG;
	}
	r = crypto_aead_xchacha20poly1305_ietf_decrypt_detached(none, NULL, none, 0, g->tag,
								g->inner, g->inner_len,
								g->nonce, key);
	sodium_memzero(key, sizeof(key));
	if (r != 0) {
		elk_errf(e, "signature: the tag does not verify (not signed by the source "
			 "for our key, or altered)");
		return -EBADMSG;
	}
	return 0;
}

void elk_facts_iter_init(struct elk_facts_iter *it, const struct elk_facts_group *g)
{
	memset(it, 0, sizeof(*it));
	it->p = g->inner;
	it->len = g->inner_len;
}

int elk_facts_iter_next(struct elk_facts_iter *it, struct elk_fact *f, struct elk_err *e)
{
	struct elk_err sub;
	size_t used;

	if (it->done || it->off >= it->len)
		return 0;
	if (elk_fact_parse(it->p + it->off, it->len - it->off, f, &used, &sub) < 0) {
		/* Facts are concatenated without lengths: after a bad one,
		 * nothing tells where the next begins. */
		it->done = true;
		return elk_errf(e, "fact %u (byte %zu of the group): %s", it->index + 1, it->off,
				sub.msg);
	}
	it->off += used;
	it->index++;
	return 1;
}

int elk_facts_group_seal_nonce(uint8_t out[ELK_FACTS_DGRAM_MAX], size_t *len,
			       const uint8_t own_priv[ELK_KEY_LEN],
			       const uint8_t peer_pub[ELK_KEY_LEN],
			       const uint8_t nonce[ELK_FACTS_NONCE_LEN], const uint8_t *inner,
			       size_t inner_len, struct elk_err *e)
{
	uint8_t key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	uint8_t none[1];
	unsigned long long taglen;
	size_t off = 0;

	if (inner_len > ELK_FACTS_GROUP_INNER_MAX)
		return elk_errf(e, "%zu bytes of facts are over %d for one group", inner_len,
				ELK_FACTS_GROUP_INNER_MAX);
	out[off++] = ELK_FACT_SIGNED_GROUP;
	out[off++] = 0; /* ttl: ignored, and 0 by convention */
	if (elk_key_public(out + off, own_priv) < 0)
		return elk_errf(e, "key: not a usable private key");
	off += ELK_KEY_LEN;
	if ((peer_pub[ELK_KEY_LEN - 1] & 0x80) ||
	    crypto_scalarmult_curve25519(key, own_priv, peer_pub) != 0) {
		sodium_memzero(key, sizeof(key));
		return elk_errf(e, "peer: not a usable public key (low order or top bit set)");
	}
	memcpy(out + off, nonce, ELK_FACTS_NONCE_LEN);
	off += ELK_FACTS_NONCE_LEN;
	/* Facts follow the tag; write them first, the tag covers them. */
	memmove(out + off + ELK_FACTS_TAG_LEN, inner, inner_len);
	crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
		none, out + off, &taglen, NULL, 0, out + off + ELK_FACTS_TAG_LEN, inner_len, NULL,
		nonce, key);
	sodium_memzero(key, sizeof(key));
	*len = off + ELK_FACTS_TAG_LEN + inner_len;
	return 0;
}

int elk_facts_group_seal(uint8_t out[ELK_FACTS_DGRAM_MAX], size_t *len,
			 const uint8_t own_priv[ELK_KEY_LEN], const uint8_t peer_pub[ELK_KEY_LEN],
			 const uint8_t *inner, size_t inner_len, struct elk_err *e)
{
	uint8_t nonce[ELK_FACTS_NONCE_LEN];

	/* 192 random bits: collisions are not a concern at any rate. */
	randombytes_buf(nonce, sizeof(nonce));
	return elk_facts_group_seal_nonce(out, len, own_priv, peer_pub, nonce, inner, inner_len,
					  e);
}

void elk_facts_packer_reset(struct elk_facts_packer *p)
{
	p->len = 0;
	p->closed = false;
}

int elk_facts_pack(struct elk_facts_packer *p, const struct elk_fact *f, struct elk_err *e)
{
	uint8_t buf[ELK_FACTS_DGRAM_MAX];
	size_t len;
	int r;

	r = elk_fact_put(f, buf, sizeof(buf), &len, e);
	if (r == -ENOSPC || (r == 0 && len > ELK_FACTS_GROUP_INNER_MAX)) {
		elk_errf(e, "a fact of %zu bytes does not fit in a group (%d bytes of facts)",
			 len, ELK_FACTS_GROUP_INNER_MAX);
		return -EMSGSIZE;
	}
	if (r < 0)
		return r;
	if (p->closed || len > sizeof(p->inner) - p->len)
		return -ENOSPC;
	memcpy(p->inner + p->len, buf, len);
	p->len += len;
	if (!elk_fact_attr_known(f->attr))
		p->closed = true;
	return 0;
}

/* JSON */

static json_t *hex_string(const uint8_t *p, size_t n)
{
	char *h = malloc(2 * n + 1);
	json_t *s;

	if (!h)
		return NULL;
	sodium_bin2hex(h, 2 * n + 1, p, n);
	s = json_string(h);
	free(h);
	return s;
}

/* Exactly the hex of up to cap bytes; 0 and *n, or -EINVAL. */
static int from_hex(const char *s, size_t slen, uint8_t *out, size_t cap, size_t *n)
{
	const char *end = NULL;

	if (slen % 2 || slen / 2 > cap)
		return -EINVAL;
	if (slen == 0) {
		*n = 0;
		return 0;
	}
	if (sodium_hex2bin(out, cap, s, slen, NULL, n, &end) != 0 || end != s + slen)
		return -EINVAL;
	return 0;
}

static json_t *meta_to_json(const struct elk_fact_meta *m)
{
	struct elk_fact_meta_item it;
	json_t *o = json_object();
	size_t off = 0;

	if (!o)
		return NULL;
	while (elk_fact_meta_next(m, &off, &it)) {
		json_t *v;
		char key[8];

		if (it.attr == ELK_META_NAME) {
			v = json_stringn((const char *)it.data, it.len);
			snprintf(key, sizeof(key), "name");
		} else if (it.attr == ELK_META_BASIC) {
			v = json_boolean(it.data[0]);
			snprintf(key, sizeof(key), "basic");
		} else {
			v = hex_string(it.data, it.len);
			snprintf(key, sizeof(key), "0x%02x", it.attr);
		}
		if (!v || json_object_set_new(o, key, v)) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

static json_t *value_to_json(const struct elk_fact *f)
{
	char buf[ELK_CIDR_STRLEN + 8];
	char addr[INET6_ADDRSTRLEN];

	switch (f->attr) {
	case ELK_FACT_ALIVE:
		return hex_string(f->v.boot_id, ELK_FACT_BOOT_ID_LEN);
	case ELK_FACT_MEMBER:
		return json_null();
	case ELK_FACT_MEMBER_META:
		return meta_to_json(&f->v.meta);
	case ELK_FACT_ENDPOINT_V4:
		inet_ntop(AF_INET, f->v.endpoint.addr, addr, sizeof(addr));
		snprintf(buf, sizeof(buf), "%s:%u", addr, f->v.endpoint.port);
		return json_string(buf);
	case ELK_FACT_ENDPOINT_V6:
		inet_ntop(AF_INET6, f->v.endpoint.addr, addr, sizeof(addr));
		snprintf(buf, sizeof(buf), "[%s]:%u", addr, f->v.endpoint.port);
		return json_string(buf);
	case ELK_FACT_ALLOWED_V4:
	case ELK_FACT_ALLOWED_V6:
		elk_cidr_format(&f->v.allowed, buf);
		return json_string(buf);
	}
	return hex_string(f->v.raw.bytes, f->v.raw.len);
}

json_t *elk_fact_to_json(const struct elk_fact *f, const uint8_t source[ELK_KEY_LEN])
{
	json_t *rec = elk_record_new("fact"), *v;
	const char *name = elk_fact_attr_name(f->attr);
	char code[8];
	int bad = 0;

	if (!rec)
		return NULL;
	if (!name) {
		snprintf(code, sizeof(code), "0x%02x", f->attr);
		name = code;
	}
	bad |= elk_set_key(rec, "subject", f->subject);
	bad |= json_object_set_new(rec, "attribute", json_string(name));
	v = value_to_json(f);
	bad |= !v || json_object_set_new(rec, "value", v);
	bad |= json_object_set_new(rec, "ttl", json_integer(f->ttl));
	if (source)
		bad |= elk_set_key(rec, "source", source);
	if (bad) {
		json_decref(rec);
		return NULL;
	}
	return rec;
}

/* "0xHH" in lower case, as we print it: -1 when s is not one. */
static int code_byte(const char *s)
{
	static const char digits[] = "0123456789abcdef";
	const char *hi, *lo;

	if (strlen(s) != 4 || s[0] != '0' || s[1] != 'x' || !s[2] || !s[3])
		return -1;
	hi = strchr(digits, s[2]);
	lo = strchr(digits, s[3]);
	if (!hi || !lo)
		return -1;
	return (int)((hi - digits) << 4 | (lo - digits));
}

struct meta_in {
	uint8_t attr;
	const uint8_t *data;
	size_t len;
};

/* wirelink's order: name first, then by item byte; it compares facts by
 * their bytes, so the same metadata must always encode the same way. */
static int meta_cmp(const void *a, const void *b)
{
	const struct meta_in *x = a, *y = b;

	if (x->attr == y->attr)
		return 0;
	if (x->attr == ELK_META_NAME)
		return -1;
	if (y->attr == ELK_META_NAME)
		return 1;
	return x->attr < y->attr ? -1 : 1;
}

static int meta_from_json(const json_t *o, struct elk_fact_meta *m, struct elk_err *e)
{
	static const uint8_t flag[2] = { 0, 1 };
	struct meta_in items[256];
	uint8_t *scratch;
	size_t n = 0, off = 0, sused = 0;
	const char *k;
	json_t *v;
	int r = 0;

	if (json_object_size(o) > 256)
		return elk_errf(e, "value: too many member items");
	/* Hex items decode here before they are laid out in m. */
	scratch = malloc(ELK_FACT_VALUE_MAX);
	if (!scratch)
		return elk_errf(e, "out of memory");
	json_object_foreach((json_t *)o, k, v) {
		struct meta_in *it = &items[n];
		int c;

		if (!strcmp(k, "name")) {
			if (!json_is_string(v)) {
				r = elk_errf(e, "value.name: must be a string");
				goto out;
			}
			it->attr = ELK_META_NAME;
			it->data = (const uint8_t *)json_string_value(v);
			it->len = json_string_length(v);
		} else if (!strcmp(k, "basic")) {
			if (!json_is_boolean(v)) {
				r = elk_errf(e, "value.basic: must be true or false");
				goto out;
			}
			it->attr = ELK_META_BASIC;
			it->data = &flag[json_is_true(v)];
			it->len = 1;
		} else if ((c = code_byte(k)) >= 0) {
			size_t hl;

			if (c == ELK_META_NAME || c == ELK_META_BASIC) {
				r = elk_errf(e, "value.%s: write this item as \"%s\"", k,
					     c == ELK_META_NAME ? "name" : "basic");
				goto out;
			}
			if (!json_is_string(v) ||
			    from_hex(json_string_value(v), json_string_length(v), scratch + sused,
				     ELK_FACT_VALUE_MAX - sused, &hl) < 0) {
				r = elk_errf(e, "value.%s: must be a string of hex digits", k);
				goto out;
			}
			it->attr = (uint8_t)c;
			it->data = scratch + sused;
			it->len = hl;
			sused += hl;
		} else {
			r = elk_errf(e, "value.%.32s: unknown member item (want name, basic, or "
				     "0xHH for item byte HH)", k);
			goto out;
		}
		n++;
	}
	qsort(items, n, sizeof(items[0]), meta_cmp);
	for (size_t i = 0; i < n; i++) {
		size_t need = 1 + uvarint_len(items[i].len) + items[i].len;

		if (need > sizeof(m->items) - off) {
			r = elk_errf(e, "value: member items too long");
			goto out;
		}
		m->items[off++] = items[i].attr;
		off += put_uvarint(m->items + off, items[i].len);
		memcpy(m->items + off, items[i].data, items[i].len);
		off += items[i].len;
	}
	m->len = off;
	if (meta_check(m->items, m->len, e) < 0)
		r = -EINVAL;
out:
	free(scratch);
	return r;
}

/* "A.B.C.D:PORT" or "[V6]:PORT", port 0..65535 (the wire allows 0). */
static int endpoint_from_string(const char *s, struct elk_fact *f)
{
	char host[INET6_ADDRSTRLEN];
	uint16_t port;
	bool br = *s == '[';

	/* The split is addr.c's; a name is no endpoint here. */
	if (elk_endpoint_split_any_port(s, host, sizeof(host), &port))
		return -EINVAL;
	if (!br && inet_pton(AF_INET, host, f->v.endpoint.addr) == 1) {
		f->attr = ELK_FACT_ENDPOINT_V4;
	} else if (br && inet_pton(AF_INET6, host, f->v.endpoint.addr) == 1) {
		f->attr = ELK_FACT_ENDPOINT_V6;
		/* wirelink normalises these to 4 bytes before sending. */
		if (v4_mapped(f->v.endpoint.addr)) {
			memmove(f->v.endpoint.addr, f->v.endpoint.addr + 12, 4);
			memset(f->v.endpoint.addr + 4, 0, 12);
			f->attr = ELK_FACT_ENDPOINT_V4;
		}
	} else {
		return -EINVAL;
	}
	f->v.endpoint.port = port;
	return 0;
}

int elk_fact_from_json(const json_t *rec, struct elk_fact *f, struct elk_err *e)
{
	const char *type, *attr, *s;
	const json_t *v;
	long long ttl = ELK_FACT_TTL_DEFAULT;
	int r, c;

	clear_fact(f);
	if (elk_field_string(rec, "type", &type, e) <= 0 || strcmp(type, "fact"))
		return elk_errf(e, "type: not a fact record");
	if ((r = elk_field_key(rec, "subject", f->subject, e)) <= 0)
		return r < 0 ? r : elk_errf(e, "subject: missing");
	if ((r = elk_field_string(rec, "attribute", &attr, e)) <= 0)
		return r < 0 ? r : elk_errf(e, "attribute: missing");
	if ((r = elk_field_int(rec, "ttl", 0, ELK_FACT_TTL_MAX, &ttl, e)) < 0)
		return r;
	f->ttl = (uint32_t)ttl;
	v = json_object_get(rec, "value");

	if (!strcmp(attr, "alive")) {
		size_t n;

		f->attr = ELK_FACT_ALIVE;
		if (!json_is_string(v) ||
		    from_hex(json_string_value(v), json_string_length(v), f->v.boot_id,
			     ELK_FACT_BOOT_ID_LEN, &n) < 0 ||
		    n != ELK_FACT_BOOT_ID_LEN)
			return elk_errf(e, "value: an alive boot id is 32 hex digits");
	} else if (!strcmp(attr, "member")) {
		if (!v || json_is_null(v)) {
			f->attr = ELK_FACT_MEMBER;
		} else if (json_is_object(v)) {
			f->attr = ELK_FACT_MEMBER_META;
			if (meta_from_json(v, &f->v.meta, e) < 0)
				return -EINVAL;
		} else {
			return elk_errf(e, "value: member takes null or an object "
					"{\"name\":..,\"basic\":..}");
		}
	} else if (!strcmp(attr, "endpoint")) {
		if (!json_is_string(v) || endpoint_from_string(json_string_value(v), f) < 0)
			return elk_errf(e, "value: an endpoint is \"IPv4:PORT\" or \"[IPv6]:PORT\"");
	} else if (!strcmp(attr, "allowed_ip")) {
		if (!json_is_string(v) || !strchr(s = json_string_value(v), '/') ||
		    elk_cidr_parse(s, &f->v.allowed) < 0)
			return elk_errf(e, "value: an allowed_ip is a CIDR like \"10.0.0.0/24\"");
		f->attr = f->v.allowed.family == AF_INET ? ELK_FACT_ALLOWED_V4 : ELK_FACT_ALLOWED_V6;
	} else if ((c = code_byte(attr)) >= 0) {
		if (elk_fact_attr_known((uint8_t)c))
			return elk_errf(e, "attribute: %s is a known attribute; write it by name",
					attr);
		f->attr = (uint8_t)c;
		if (!json_is_string(v) ||
		    from_hex(json_string_value(v), json_string_length(v), f->v.raw.bytes,
			     sizeof(f->v.raw.bytes), &f->v.raw.len) < 0)
			return elk_errf(e, "value: an unknown attribute's value is hex digits");
	} else {
		return elk_errf(e, "attribute: \"%.32s\" is not alive, member, endpoint, "
				"allowed_ip or 0xHH", attr);
	}
	return elk_fact_check(f, e);
}
