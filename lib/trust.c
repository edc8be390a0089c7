/* trust.c - wirelink's trust model and the fold of believed facts into
 * peer records (trust.h; ../shared/FACTS-WIRE.md "Trust"; el-trust(1)).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trust.h"

#define DEFAULT_TTL 255

static const char *const level_names[ELK_TRUST_LEVELS] = {
	"untrusted", "endpoint", "allowed-ips", "membership",
};

const char *elk_trust_level_name(enum elk_trust_level l)
{
	return (unsigned)l < ELK_TRUST_LEVELS ? level_names[l] : "?";
}

int elk_trust_level_parse(const char *s, enum elk_trust_level *out)
{
	for (int i = 0; i < ELK_TRUST_LEVELS; i++)
		if (!strcmp(s, level_names[i])) {
			*out = (enum elk_trust_level)i;
			return 0;
		}
	return -EINVAL;
}

const char *elk_trust_rule_name(enum elk_trust_rule r)
{
	switch (r) {
	case ELK_TRULE_BELIEVED: return "believed";
	case ELK_TRULE_SELF: return "self";
	case ELK_TRULE_ENDPOINT: return "endpoint";
	case ELK_TRULE_ALLOWED_IPS: return "allowed-ips";
	case ELK_TRULE_MEMBER: return "member";
	case ELK_TRULE_INFO: return "info";
	case ELK_TRULE_NEW_SUBJECT: return "new-subject";
	}
	return "?";
}

const char *elk_trust_rule_text(enum elk_trust_rule r)
{
	switch (r) {
	case ELK_TRULE_BELIEVED: return "believed";
	case ELK_TRULE_SELF: return "a node never takes facts about itself from others";
	case ELK_TRULE_ENDPOINT:
		return "endpoint facts need a source trusted at endpoint or above";
	case ELK_TRULE_ALLOWED_IPS:
		return "allowed_ip facts need a source trusted at allowed-ips or above";
	case ELK_TRULE_MEMBER: return "member facts need a source trusted at membership";
	case ELK_TRULE_INFO:
		return "alive and unknown facts need a source trusted at endpoint or above";
	case ELK_TRULE_NEW_SUBJECT:
		return "a fact about a peer not on the device needs a source trusted at membership";
	}
	return "?";
}

enum elk_trust_level elk_trust_needed(enum elk_trust_attr a)
{
	switch (a) {
	case ELK_TATTR_MEMBER: return ELK_TRUST_MEMBERSHIP;
	case ELK_TATTR_ALLOWED_IP: return ELK_TRUST_ALLOWED_IPS;
	case ELK_TATTR_ENDPOINT:
	case ELK_TATTR_ALIVE:
	case ELK_TATTR_OTHER: break;
	}
	return ELK_TRUST_ENDPOINT;
}

static enum elk_trust_rule attr_rule(enum elk_trust_attr a)
{
	switch (a) {
	case ELK_TATTR_MEMBER: return ELK_TRULE_MEMBER;
	case ELK_TATTR_ALLOWED_IP: return ELK_TRULE_ALLOWED_IPS;
	case ELK_TATTR_ENDPOINT: return ELK_TRULE_ENDPOINT;
	case ELK_TATTR_ALIVE:
	case ELK_TATTR_OTHER: break;
	}
	return ELK_TRULE_INFO;
}

static int missing(struct elk_err *e, const char *field)
{
	elk_errf(e, "%s: missing", field);
	return -EINVAL;
}

int elk_trust_fact_from_json(const json_t *rec, struct elk_trust_fact *f, struct elk_err *e)
{
	const char *attr, *s;
	long long ttl;
	const json_t *v;
	int r;

	memset(f, 0, sizeof(*f));
	if ((r = elk_field_key(rec, "subject", f->subject, e)) <= 0)
		return r < 0 ? r : missing(e, "subject");
	/* A fact nobody vouches for cannot be judged. */
	if ((r = elk_field_key(rec, "source", f->source, e)) <= 0)
		return r < 0 ? r : missing(e, "source");
	if ((r = elk_field_string(rec, "attribute", &attr, e)) <= 0)
		return r < 0 ? r : missing(e, "attribute");
	if ((r = elk_field_int(rec, "ttl", 0, 65535, &ttl, e)) < 0)
		return r;
	f->ttl = r ? (uint32_t)ttl : DEFAULT_TTL;
	v = json_object_get(rec, "value");
	if (!strcmp(attr, "endpoint")) {
		uint16_t port;
		char host[ELK_ENDPOINT_MAX];

		f->attr = ELK_TATTR_ENDPOINT;
		if ((r = elk_field_string(rec, "value", &s, e)) <= 0)
			return r < 0 ? r : missing(e, "value");
		if (strlen(s) >= sizeof(f->endpoint) ||
		    elk_endpoint_split(s, host, sizeof(host), &port) || !port)
			return elk_errf(e, "value: \"%.64s\" is not an endpoint (ip:port or "
					"[v6]:port)", s), -EINVAL;
		strcpy(f->endpoint, s);
	} else if (!strcmp(attr, "allowed_ip")) {
		f->attr = ELK_TATTR_ALLOWED_IP;
		if ((r = elk_field_string(rec, "value", &s, e)) <= 0)
			return r < 0 ? r : missing(e, "value");
		if (elk_cidr_parse(s, &f->allowed))
			return elk_errf(e, "value: \"%.64s\" is not a CIDR", s), -EINVAL;
		elk_cidr_mask(&f->allowed);
	} else if (!strcmp(attr, "member")) {
		f->attr = ELK_TATTR_MEMBER;
		if (v && !json_is_null(v) && !json_is_object(v))
			return elk_errf(e, "value: a member fact's value is null or an object"),
			       -EINVAL;
	} else if (!strcmp(attr, "alive")) {
		f->attr = ELK_TATTR_ALIVE;
	} else {
		/* Users may publish their own attributes: not ours to refuse. */
		f->attr = ELK_TATTR_OTHER;
	}
	return 0;
}

int elk_trust_policy_from_json(const json_t *doc, struct elk_trust_policy *p, struct elk_err *e)
{
	const char *k;
	json_t *v;

	memset(p, 0, sizeof(*p));
	if (!json_is_object(doc))
		return elk_errf(e, "a policy is a JSON object"), -EINVAL;
	json_object_foreach((json_t *)doc, k, v) {
		if (!strcmp(k, "default")) {
			if (!json_is_string(v) || elk_trust_level_parse(json_string_value(v), &p->def))
				goto bad_level;
		} else if (!strcmp(k, "peers")) {
			const char *pk;
			json_t *pv;

			if (!json_is_object(v))
				return elk_errf(e, "peers: an object of public key: level"), -EINVAL;
			p->peers = calloc(json_object_size(v) + 1, sizeof(*p->peers));
			if (!p->peers)
				return elk_errf(e, "out of memory"), -ENOMEM;
			json_object_foreach(v, pk, pv) {
				struct elk_trust_entry *t = &p->peers[p->n_peers];

				if (elk_key_from_base64(t->key, pk)) {
					elk_errf(e, "peers: \"%.60s\" is not a public key", pk);
					goto fail;
				}
				if (!json_is_string(pv) ||
				    elk_trust_level_parse(json_string_value(pv), &t->level)) {
					elk_errf(e, "peers.%.60s: not a trust level (untrusted, "
						 "endpoint, allowed-ips, membership)", pk);
					goto fail;
				}
				p->n_peers++;
			}
		} else {
			elk_errf(e, "%.60s: unknown key (a policy has \"default\" and "
				 "\"peers\")", k);
			goto fail;
		}
		continue;
bad_level:
		elk_errf(e, "%s: not a trust level (untrusted, endpoint, allowed-ips, "
			 "membership)", k);
		goto fail;
	}
	return 0;
fail:
	elk_trust_policy_clear(p);
	return -EINVAL;
}

void elk_trust_policy_clear(struct elk_trust_policy *p)
{
	free(p->peers);
	memset(p, 0, sizeof(*p));
}

static bool cidrs_route(const struct elk_cidr *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (c[i].len < elk_family_bits(c[i].family))
			return true;
	return false;
}

bool elk_trust_peer_is_router(const struct elk_peer *p)
{
	return cidrs_route(p->allowed_ips, p->n_allowed_ips);
}

/* wirelink trusts routers only while no peer has explicit trust: an
 * operator who names levels has said whom to trust. */
static enum elk_trust_level level_of(const struct elk_trust_policy *policy,
				     const uint8_t source[ELK_KEY_LEN], bool on_device, bool router)
{
	enum elk_trust_level l = policy ? policy->def : ELK_TRUST_UNTRUSTED;

	if (policy)
		for (size_t i = 0; i < policy->n_peers; i++)
			if (elk_key_eq(policy->peers[i].key, source))
				return policy->peers[i].level;
	if (!on_device)
		return l;
	if (router && (!policy || !policy->n_peers))
		return ELK_TRUST_MEMBERSHIP;
	return l > ELK_TRUST_ENDPOINT ? l : ELK_TRUST_ENDPOINT;
}

enum elk_trust_level elk_trust_source_level(const struct elk_trust_policy *policy,
					    const struct elk_device *d,
					    const uint8_t source[ELK_KEY_LEN])
{
	const struct elk_peer *p = d ? elk_device_find_peer(d, source) : NULL;

	return level_of(policy, source, p != NULL, p && elk_trust_peer_is_router(p));
}

enum elk_trust_rule elk_trust_decide(const struct elk_trust_fact *f, const uint8_t *self,
				     enum elk_trust_level source_level, bool subject_known)
{
	if (self && elk_key_eq(f->subject, self))
		return ELK_TRULE_SELF;
	if (source_level < elk_trust_needed(f->attr))
		return attr_rule(f->attr);
	if (!subject_known && source_level < ELK_TRUST_MEMBERSHIP)
		return ELK_TRULE_NEW_SUBJECT;
	return ELK_TRULE_BELIEVED;
}

enum elk_trust_rule elk_trust_judge(const struct elk_trust_policy *policy,
				    const struct elk_device *d, const uint8_t *self,
				    const struct elk_trust_fact *f)
{
	bool known = d && elk_device_find_peer(d, f->subject);

	return elk_trust_decide(f, self, elk_trust_source_level(policy, d, f->source), known);
}

/* ---- the fold ---- */

static bool cidr_eq(const struct elk_cidr *a, const struct elk_cidr *b)
{
	return a->family == b->family && a->len == b->len &&
	       !memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16);
}

static bool cidr_in(const struct elk_cidr *set, size_t n, const struct elk_cidr *c)
{
	for (size_t i = 0; i < n; i++)
		if (cidr_eq(&set[i], c))
			return true;
	return false;
}

/* Same members, in any order (each set has no duplicates). */
static bool cidr_set_eq(const struct elk_cidr *a, size_t na, const struct elk_cidr *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!cidr_in(b, nb, &a[i]))
			return false;
	return true;
}

static struct elk_trust_view *view_find(const struct elk_trust_fold *t, const uint8_t key[ELK_KEY_LEN])
{
	for (size_t i = 0; i < t->n_views; i++)
		if (elk_key_eq(t->views[i].key, key))
			return &t->views[i];
	return NULL;
}

static struct elk_trust_view *view_add(struct elk_trust_fold *t, const uint8_t key[ELK_KEY_LEN])
{
	if (t->n_views == t->cap_views) {
		size_t cap = t->cap_views ? 2 * t->cap_views : 8;
		struct elk_trust_view *g = realloc(t->views, cap * sizeof(*g));

		if (!g)
			return NULL;
		t->views = g;
		t->cap_views = cap;
	}
	struct elk_trust_view *v = &t->views[t->n_views++];

	memset(v, 0, sizeof(*v));
	memcpy(v->key, key, ELK_KEY_LEN);
	v->heard = v->endpoint_set = -1;
	return v;
}

static struct elk_cidr *cidr_dup(const struct elk_cidr *c, size_t n)
{
	struct elk_cidr *d = malloc((n ? n : 1) * sizeof(*d));

	if (d && n)
		memcpy(d, c, n * sizeof(*d));
	return d;
}

static struct elk_cidr link_local(const uint8_t key[ELK_KEY_LEN])
{
	struct elk_cidr c = { .family = AF_INET6, .len = 128 };

	elk_addr_ll_from_key(key, c.addr);
	return c;
}

/* v becomes (or stays) a peer configured by other means, as p on the
 * device read at wall: configured addresses are p's minus those the fold
 * gave it (ours, which may be empty), and what the device has is p's, plus
 * the link-local address gossip gives every peer (or will, within a cycle). */
static int base_view_set(struct elk_trust_view *v, const struct elk_peer *p,
			 const struct elk_cidr *ours, size_t n_ours, int64_t wall)
{
	struct elk_cidr ll = link_local(p->public_key);
	size_t n = p->n_allowed_ips;
	struct elk_cidr *b = malloc((n ? n : 1) * sizeof(*b));
	struct elk_cidr *d = malloc((n + 1) * sizeof(*d));
	size_t nb = 0, nd = 0;

	if (!b || !d) {
		free(b);
		free(d);
		return -ENOMEM;
	}
	/* Masked, as the device keeps them, and without duplicates, so that
	 * set comparison is exact. */
	for (size_t j = 0; j < n; j++) {
		struct elk_cidr c = p->allowed_ips[j];

		elk_cidr_mask(&c);
		if (!cidr_in(d, nd, &c))
			d[nd++] = c;
		if (!cidr_in(ours, n_ours, &c) && !cidr_in(b, nb, &c))
			b[nb++] = c;
	}
	if (!cidr_in(d, nd, &ll))
		d[nd++] = ll;
	free(v->base_ips);
	free(v->ips);
	v->base_ips = b;
	v->n_base_ips = nb;
	v->ips = d;
	v->n_ips = nd;
	v->on_device = true;
	v->added = false;
	v->connected = elk_peer_connected(p, wall);
	if (p->flags & ELK_PEER_ENDPOINT)
		snprintf(v->endpoint, sizeof(v->endpoint), "%s", p->endpoint);
	return 0;
}

int elk_trust_fold_init(struct elk_trust_fold *t, const struct elk_trust_policy *policy,
			const struct elk_device *base, const uint8_t *self, int64_t base_wall)
{
	memset(t, 0, sizeof(*t));
	t->policy = policy;
	if (self) {
		memcpy(t->self, self, ELK_KEY_LEN);
		t->have_self = true;
	}
	for (size_t i = 0; base && i < base->n_peers; i++) {
		struct elk_trust_view *v = view_add(t, base->peers[i].public_key);

		if (!v || base_view_set(v, &base->peers[i], NULL, 0, base_wall)) {
			elk_trust_fold_free(t);
			return -ENOMEM;
		}
	}
	return 0;
}

int elk_trust_fold_rebase(struct elk_trust_fold *t, const struct elk_device *d, int64_t wall)
{
	size_t n_views = t->n_views;
	bool *seen = calloc(n_views + 1, sizeof(*seen));

	if (!seen)
		return -ENOMEM;
	for (size_t i = 0; i < d->n_peers; i++) {
		const struct elk_peer *p = &d->peers[i];
		struct elk_trust_view *v = view_find(t, p->public_key);
		int r = 0;

		if (v && (size_t)(v - t->views) < n_views)
			seen[v - t->views] = true;
		if (v && v->added) {
			/* Still ours: only the handshake is news. */
			v->connected = elk_peer_connected(p, wall);
			continue;
		}
		if (!v && !(v = view_add(t, p->public_key))) {
			r = -ENOMEM;
		} else if (v->on_device) {
			/* What the fold gave it is not configuration. */
			struct elk_cidr *ours = malloc((v->n_ips ? v->n_ips : 1) * sizeof(*ours));
			size_t n = 0;

			if (!ours) {
				r = -ENOMEM;
			} else {
				for (size_t j = 0; j < v->n_ips; j++)
					if (!cidr_in(v->base_ips, v->n_base_ips, &v->ips[j]))
						ours[n++] = v->ips[j];
				r = base_view_set(v, p, ours, n, wall);
				free(ours);
			}
		} else {
			r = base_view_set(v, p, NULL, 0, wall);
		}
		if (r) {
			free(seen);
			return r;
		}
	}
	/* Gone from the device, whoever removed it: if facts still make it a
	 * member, the next sync adds it again. */
	for (size_t i = 0; i < n_views; i++) {
		struct elk_trust_view *v = &t->views[i];

		if (seen[i] || !v->on_device)
			continue;
		v->on_device = v->added = v->connected = false;
		v->n_base_ips = v->n_ips = 0;
		v->endpoint[0] = 0;
		v->endpoint_set = -1;
	}
	free(seen);
	return 0;
}

void elk_trust_fold_free(struct elk_trust_fold *t)
{
	for (size_t i = 0; i < t->n_views; i++) {
		free(t->views[i].base_ips);
		free(t->views[i].ips);
	}
	free(t->views);
	free(t->facts);
	memset(t, 0, sizeof(*t));
}

enum elk_trust_level elk_trust_fold_source_level(const struct elk_trust_fold *t,
						 const uint8_t source[ELK_KEY_LEN])
{
	const struct elk_trust_view *v = view_find(t, source);
	bool base = v && v->on_device && !v->added;

	return level_of(t->policy, source, base, base && cidrs_route(v->base_ips, v->n_base_ips));
}

/* Judged against the device as it will be: sources by what was configured
 * by other means only, subjects by that plus our own changes. */
static enum elk_trust_rule fold_judge(const struct elk_trust_fold *t, const struct elk_trust_fact *f)
{
	const struct elk_trust_view *v = view_find(t, f->subject);

	return elk_trust_decide(f, t->have_self ? t->self : NULL,
				elk_trust_fold_source_level(t, f->source), v && v->on_device);
}

/* The same statement: re-announcements refresh it rather than pile up. */
static bool same_fact(const struct elk_trust_fact *a, const struct elk_trust_fact *b)
{
	if (a->attr != b->attr || !elk_key_eq(a->subject, b->subject) ||
	    !elk_key_eq(a->source, b->source))
		return false;
	if (a->attr == ELK_TATTR_ENDPOINT)
		return !strcmp(a->endpoint, b->endpoint);
	if (a->attr == ELK_TATTR_ALLOWED_IP)
		return cidr_eq(&a->allowed, &b->allowed);
	return true;
}

int elk_trust_fold_heard(struct elk_trust_fold *t, const uint8_t source[ELK_KEY_LEN], int64_t now)
{
	struct elk_trust_view *v = view_find(t, source);

	if (!v && !(v = view_add(t, source)))
		return -ENOMEM;
	if (now > v->heard)
		v->heard = now;
	return 0;
}

int elk_trust_fold_add(struct elk_trust_fold *t, const struct elk_trust_fact *f, int64_t now)
{
	enum elk_trust_rule r = fold_judge(t, f);
	size_t i;

	if (r != ELK_TRULE_BELIEVED)
		return r;
	/* alive and unknown attributes are believed but never configuration. */
	if (f->attr == ELK_TATTR_ALIVE || f->attr == ELK_TATTR_OTHER)
		return r;
	for (i = 0; i < t->n_facts; i++)
		if (same_fact(&t->facts[i].f, f))
			break;
	if (i == t->n_facts) {
		if (t->n_facts == t->cap_facts) {
			size_t cap = t->cap_facts ? 2 * t->cap_facts : 16;
			struct elk_trust_stored *g = realloc(t->facts, cap * sizeof(*g));

			if (!g)
				return -ENOMEM;
			t->facts = g;
			t->cap_facts = cap;
		}
		t->n_facts++;
		t->facts[i].tried = -1;
	}
	t->facts[i].f = *f;
	t->facts[i].expires = now + f->ttl;
	t->facts[i].seq = ++t->seq;
	return r;
}

static bool healthy(const struct elk_trust_fold *t, const struct elk_trust_view *v, int64_t now)
{
	return !t->stale || (v->heard >= 0 && now - v->heard < t->stale);
}

/* Whether the fold may move v's endpoint to another candidate (with two
 * or more, one of them is always another). */
static bool may_rotate(const struct elk_trust_fold *t, const struct elk_trust_view *v)
{
	return t->try_every && v->on_device && !v->healthy && !v->connected &&
	       v->endpoint_set >= 0;
}

static size_t candidates(const struct elk_trust_fold *t, const struct elk_trust_view *v)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n_facts && n < 2; i++) {
		const struct elk_trust_stored *s = &t->facts[i];

		if (s->f.attr != ELK_TATTR_ENDPOINT || !elk_key_eq(s->f.subject, v->key) ||
		    fold_judge(t, &s->f) != ELK_TRULE_BELIEVED)
			continue;
		/* distinct endpoints only: count this one if no earlier
		 * believed fact about v names it */
		bool seen = false;

		for (size_t j = 0; j < i && !seen; j++)
			seen = t->facts[j].f.attr == ELK_TATTR_ENDPOINT &&
			       elk_key_eq(t->facts[j].f.subject, v->key) &&
			       !strcmp(t->facts[j].f.endpoint, s->f.endpoint) &&
			       fold_judge(t, &t->facts[j].f) == ELK_TRULE_BELIEVED;
		n += !seen;
	}
	return n;
}

int64_t elk_trust_fold_next_event(const struct elk_trust_fold *t)
{
	int64_t m = -1;

#define EARLIER(x) do { if (m < 0 || (x) < m) m = (x); } while (0)
	for (size_t i = 0; i < t->n_facts; i++)
		EARLIER(t->facts[i].expires);
	for (size_t i = 0; i < t->n_views; i++) {
		const struct elk_trust_view *v = &t->views[i];

		if (t->stale && v->healthy && v->heard >= 0)
			EARLIER(v->heard + t->stale);
		if (may_rotate(t, v) && candidates(t, v) >= 2)
			EARLIER(v->endpoint_set + t->try_every);
	}
#undef EARLIER
	return m;
}

static json_t *cidr_json(const struct elk_cidr *c, size_t n)
{
	json_t *a = json_array();
	char buf[ELK_CIDR_STRLEN];

	for (size_t i = 0; a && i < n; i++) {
		elk_cidr_format(&c[i], buf);
		json_array_append_new(a, json_string(buf));
	}
	return a;
}

/* What the believed facts say of one subject. ips must hold base, the
 * link-local address and every stored fact; the caller frees it. */
struct wanted {
	bool member;
	struct elk_cidr *ips;
	size_t n_ips;
	const char *endpoint;    /* the newest vouched endpoint */
	bool endpoint_vouched;   /* the view's current endpoint is among them */
	const char *next;        /* the vouched candidate least recently tried */
};

static int want(const struct elk_trust_fold *t, const struct elk_trust_view *v, bool ok,
		struct wanted *w)
{
	uint64_t best = 0;
	const struct elk_trust_stored *next = NULL;
	struct elk_cidr ll = link_local(v->key);

	memset(w, 0, sizeof(*w));
	w->ips = malloc((v->n_base_ips + t->n_facts + 1) * sizeof(*w->ips));
	if (!w->ips)
		return -ENOMEM;
	if (v->n_base_ips)
		memcpy(w->ips, v->base_ips, v->n_base_ips * sizeof(*w->ips));
	w->n_ips = v->n_base_ips;
	if (!cidr_in(w->ips, w->n_ips, &ll))
		w->ips[w->n_ips++] = ll;
	for (size_t i = 0; i < t->n_facts; i++) {
		const struct elk_trust_stored *s = &t->facts[i];

		if (!elk_key_eq(s->f.subject, v->key) || fold_judge(t, &s->f) != ELK_TRULE_BELIEVED)
			continue;
		switch (s->f.attr) {
		case ELK_TATTR_MEMBER:
			w->member = true;
			break;
		case ELK_TATTR_ALLOWED_IP:
			/* Only a healthy peer gets what facts route to it. */
			if (ok && !cidr_in(w->ips, w->n_ips, &s->f.allowed))
				w->ips[w->n_ips++] = s->f.allowed;
			break;
		case ELK_TATTR_ENDPOINT:
			if (s->seq > best) {
				best = s->seq;
				w->endpoint = s->f.endpoint;
			}
			if (!strcmp(s->f.endpoint, v->endpoint))
				w->endpoint_vouched = true;
			else if (!next || s->tried < next->tried ||
				 (s->tried == next->tried && s->seq > next->seq))
				next = s;
			break;
		default:
			break;
		}
	}
	if (next)
		w->next = next->f.endpoint;
	return 0;
}

static json_t *peer_rec(const uint8_t key[ELK_KEY_LEN])
{
	json_t *o = elk_record_new("peer");

	if (o)
		elk_set_key(o, "public_key", key);
	return o;
}

static void set_endpoint(struct elk_trust_fold *t, struct elk_trust_view *v, const char *ep,
			 int64_t now, json_t *o)
{
	snprintf(v->endpoint, sizeof(v->endpoint), "%s", ep);
	v->endpoint_set = now;
	for (size_t i = 0; i < t->n_facts; i++)
		if (t->facts[i].f.attr == ELK_TATTR_ENDPOINT &&
		    elk_key_eq(t->facts[i].f.subject, v->key) &&
		    !strcmp(t->facts[i].f.endpoint, ep))
			t->facts[i].tried = now;
	json_object_set_new(o, "endpoint", json_string(ep));
}

static int sync_one(struct elk_trust_fold *t, struct elk_trust_view *v, int64_t now, json_t *out)
{
	struct wanted w;
	json_t *o = NULL;
	const char *endpoint = NULL;
	bool ips = false;
	int r;

	bool was = v->healthy;

	v->healthy = healthy(t, v, now);
	if ((r = want(t, v, v->healthy, &w)))
		return r;
	/* Say so when health decides something: the peer is (or stays) on
	 * the device and facts give it allowed IPs. */
	if (t->on_health && t->stale && (v->on_device || w.member) &&
	    (was != v->healthy || (!v->on_device && !v->healthy))) {
		bool fact_ips = false;

		for (size_t i = 0; i < t->n_facts && !fact_ips; i++)
			fact_ips = t->facts[i].f.attr == ELK_TATTR_ALLOWED_IP &&
				   elk_key_eq(t->facts[i].f.subject, v->key) &&
				   fold_judge(t, &t->facts[i].f) == ELK_TRULE_BELIEVED;
		if (fact_ips)
			t->on_health(t->arg, v->key, v->healthy, v->heard < 0 ? -1 : now - v->heard);
	}
	if (!v->on_device) {
		if (!w.member)
			goto done;
		/* A new member: everything we know of it in one record. */
		v->on_device = v->added = true;
		ips = true;
		endpoint = w.endpoint;
		o = peer_rec(v->key);
		json_object_set_new(o, "allowed_ips", cidr_json(w.ips, w.n_ips));
	} else if (v->added && !w.member) {
		/* No trusted source vouches for it any longer. */
		o = peer_rec(v->key);
		json_object_set_new(o, "remove", json_true());
		v->on_device = v->added = false;
		v->n_ips = 0;
		v->endpoint[0] = 0;
		v->endpoint_set = -1;
		goto emit;
	} else {
		ips = !cidr_set_eq(w.ips, w.n_ips, v->ips, v->n_ips);
		/* A working endpoint stays; one no fact vouches for is
		 * replaced by the newest that one does; an unhealthy peer's
		 * moves on to the next candidate in its time. */
		if (t->stale && v->healthy)
			endpoint = NULL;
		else if (w.endpoint && !v->connected && !w.endpoint_vouched)
			endpoint = w.endpoint;
		else if (may_rotate(t, v) && w.next && now - v->endpoint_set >= t->try_every)
			endpoint = w.next;
		if (!ips && !endpoint)
			goto done;
		o = peer_rec(v->key);
		if (ips) {
			json_object_set_new(o, "replace_allowed_ips", json_true());
			json_object_set_new(o, "allowed_ips", cidr_json(w.ips, w.n_ips));
		}
	}
	if (ips) {
		struct elk_cidr *c = cidr_dup(w.ips, w.n_ips);

		if (!c) {
			r = -ENOMEM;
			goto done;
		}
		free(v->ips);
		v->ips = c;
		v->n_ips = w.n_ips;
	}
	if (endpoint)
		set_endpoint(t, v, endpoint, now, o);
emit:
	if (!o || json_array_append_new(out, o))
		r = -ENOMEM;
	o = NULL;
done:
	json_decref(o);
	free(w.ips);
	return r;
}

int elk_trust_fold_sync(struct elk_trust_fold *t, int64_t now, json_t *out)
{
	size_t i, j;
	int r;

	for (i = j = 0; i < t->n_facts; i++)
		if (t->facts[i].expires > now)
			t->facts[j++] = t->facts[i];
	t->n_facts = j;
	/* Every subject a fact names gets a view, so that it can be added. */
	for (i = 0; i < t->n_facts; i++)
		if (!view_find(t, t->facts[i].f.subject) && !view_add(t, t->facts[i].f.subject))
			return -ENOMEM;
	/* One pass is enough: a change to one subject changes only whether
	 * facts about that subject are believed, since sources are judged by
	 * the base device. */
	for (i = 0; i < t->n_views; i++)
		if ((r = sync_one(t, &t->views[i], now, out)))
			return r;
	return 0;
}
