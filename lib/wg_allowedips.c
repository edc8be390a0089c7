/* wg_allowedips.c - longest-prefix-match table for WireGuard cryptokey
 * routing (whitepaper §2; the UAPI "allowed_ip" set/get of
 * https://www.wireguard.com/xplatform/ lists its contents).
 *
 * One path-compressed binary trie per family.  Every node holds a prefix
 * (key masked to cidr); a node's children have strictly longer prefixes
 * that extend it, and the child slot is chosen by the first bit past the
 * parent's cidr.  Nodes with no owner exist only to join two subtrees, so
 * they always have both children: this keeps the depth bounded by the
 * number of distinct prefix lengths (<= 129) and lookups a single walk.
 */
#include "wg_allowedips.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct elk_wg_aip_node {
	struct elk_wg_aip_node *child[2], *parent;
	void *peer;		/* NULL: joining node only */
	uint8_t key[16];
	uint8_t cidr;
};

static int family_bits(int family)
{
	if (family == AF_INET)
		return 32;
	if (family == AF_INET6)
		return 128;
	return -EAFNOSUPPORT;
}

static struct elk_wg_aip_node **root_of(struct elk_wg_allowedips *t,
					int family)
{
	return family == AF_INET ? &t->root4 : &t->root6;
}

static int bit_at(const uint8_t *key, unsigned i)
{
	return (key[i / 8] >> (7 - i % 8)) & 1;
}

static void mask_key(uint8_t *dst, const uint8_t *src, unsigned cidr)
{
	memset(dst, 0, 16);
	memcpy(dst, src, (cidr + 7) / 8);
	if (cidr % 8)
		dst[cidr / 8] &= (uint8_t)(0xff << (8 - cidr % 8));
}

/* Number of leading bits a and b share, at most limit. */
static unsigned common_bits(const uint8_t *a, const uint8_t *b,
			    unsigned limit)
{
	unsigned n = 0;

	while (n + 8 <= limit && a[n / 8] == b[n / 8])
		n += 8;
	while (n < limit && bit_at(a, n) == bit_at(b, n))
		n++;
	return n;
}

static int prefix_contains(const struct elk_wg_aip_node *n, const uint8_t *a)
{
	return common_bits(n->key, a, n->cidr) == n->cidr;
}

/* The pointer that refers to n: its parent's child slot or the root. */
static struct elk_wg_aip_node **link_of(struct elk_wg_aip_node **root,
					struct elk_wg_aip_node *n)
{
	if (!n->parent)
		return root;
	return &n->parent->child[n->parent->child[1] == n];
}

static struct elk_wg_aip_node *new_node(struct elk_wg_allowedips *t,
					const uint8_t *key, unsigned cidr,
					void *peer)
{
	struct elk_wg_aip_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	t->nodes++;
	memcpy(n->key, key, 16);
	n->cidr = (uint8_t)cidr;
	n->peer = peer;
	return n;
}

static void attach(struct elk_wg_aip_node *parent, struct elk_wg_aip_node *n)
{
	parent->child[bit_at(n->key, parent->cidr)] = n;
	n->parent = parent;
}

int elk_wg_allowedips_insert(struct elk_wg_allowedips *t, int family,
			     const uint8_t *addr, uint8_t cidr, void *peer)
{
	struct elk_wg_aip_node **root, **link, *node, *parent = NULL, *n, *j;
	int bits = family_bits(family);
	uint8_t key[16];
	unsigned c;

	if (bits < 0)
		return bits;
	if (cidr > bits || !peer)
		return -EINVAL;
	mask_key(key, addr, cidr);
	root = root_of(t, family);
	link = root;

	while ((node = *link)) {
		c = common_bits(node->key, key,
				node->cidr < cidr ? node->cidr : cidr);
		if (c == node->cidr && c == cidr) {
			if (!node->peer)
				t->count++;
			node->peer = peer;
			return 0;
		}
		if (c == node->cidr) {
			/* node's prefix contains ours: descend */
			parent = node;
			link = &node->child[bit_at(key, node->cidr)];
			continue;
		}

		/* Ours branches off above node: put it, or a joining node for
		 * the two, in node's place. */
		n = new_node(t, key, cidr, peer);
		if (!n)
			return -ENOMEM;
		if (c == cidr) {
			*link = n;
			n->parent = parent;
			attach(n, node);
		} else {
			uint8_t jkey[16];

			mask_key(jkey, key, c);
			j = new_node(t, jkey, c, NULL);
			if (!j) {
				free(n);
				t->nodes--;
				return -ENOMEM;
			}
			*link = j;
			j->parent = parent;
			attach(j, node);
			attach(j, n);
		}
		t->count++;
		return 0;
	}

	n = new_node(t, key, cidr, peer);
	if (!n)
		return -ENOMEM;
	*link = n;
	n->parent = parent;
	t->count++;
	return 0;
}

/* After n lost its owner: drop it, and any joining node left with a single
 * child, so the both-children invariant holds again. */
static void compact(struct elk_wg_allowedips *t,
		    struct elk_wg_aip_node **root, struct elk_wg_aip_node *n)
{
	while (n && !n->peer && !(n->child[0] && n->child[1])) {
		struct elk_wg_aip_node *child = n->child[0] ? n->child[0] :
							      n->child[1];
		struct elk_wg_aip_node *parent = n->parent;

		*link_of(root, n) = child;
		if (child)
			child->parent = parent;
		free(n);
		t->nodes--;
		n = parent;
	}
}

static struct elk_wg_aip_node *find_exact(struct elk_wg_aip_node *node,
					  const uint8_t *key, unsigned cidr)
{
	while (node && node->cidr <= cidr && prefix_contains(node, key)) {
		if (node->cidr == cidr)
			return node;
		node = node->child[bit_at(key, node->cidr)];
	}
	return NULL;
}

int elk_wg_allowedips_remove(struct elk_wg_allowedips *t, int family,
			     const uint8_t *addr, uint8_t cidr, void *peer)
{
	struct elk_wg_aip_node **root, *n;
	int bits = family_bits(family);
	uint8_t key[16];

	if (bits < 0)
		return bits;
	if (cidr > bits)
		return -EINVAL;
	mask_key(key, addr, cidr);
	root = root_of(t, family);
	n = find_exact(*root, key, cidr);
	if (!n || !n->peer || n->peer != peer)
		return -ENOENT;
	n->peer = NULL;
	t->count--;
	compact(t, root, n);
	return 0;
}

/* Post-order, so every node's subtree is already compacted when the node
 * itself is looked at; returns what should now hang in n's place. */
static struct elk_wg_aip_node *prune(struct elk_wg_allowedips *t,
				     struct elk_wg_aip_node *n, void *peer,
				     int *removed)
{
	struct elk_wg_aip_node *child;

	if (!n)
		return NULL;
	for (int i = 0; i < 2; i++) {
		n->child[i] = prune(t, n->child[i], peer, removed);
		if (n->child[i])
			n->child[i]->parent = n;
	}
	if (n->peer == peer) {
		n->peer = NULL;
		(*removed)++;
	}
	if (n->peer || (n->child[0] && n->child[1]))
		return n;
	child = n->child[0] ? n->child[0] : n->child[1];
	free(n);
	t->nodes--;
	return child;
}

int elk_wg_allowedips_remove_by_peer(struct elk_wg_allowedips *t, void *peer)
{
	int removed = 0;

	if (!peer)
		return 0;
	t->root4 = prune(t, t->root4, peer, &removed);
	if (t->root4)
		t->root4->parent = NULL;
	t->root6 = prune(t, t->root6, peer, &removed);
	if (t->root6)
		t->root6->parent = NULL;
	t->count -= (size_t)removed;
	return removed;
}

void *elk_wg_allowedips_lookup(const struct elk_wg_allowedips *t, int family,
			       const uint8_t *addr)
{
	const struct elk_wg_aip_node *node, *best = NULL;
	int bits = family_bits(family);

	if (bits < 0)
		return NULL;
	node = family == AF_INET ? t->root4 : t->root6;
	while (node && prefix_contains(node, addr)) {
		if (node->peer)
			best = node;
		if (node->cidr == bits)
			break;
		node = node->child[bit_at(addr, node->cidr)];
	}
	return best ? best->peer : NULL;
}

static int walk(const struct elk_wg_aip_node *n, int family, void *peer,
		elk_wg_aip_cb cb, void *ctx)
{
	int ret;

	for (; n; n = n->child[1]) {
		if (n->peer == peer) {
			ret = cb(ctx, family, n->key, n->cidr);
			if (ret)
				return ret;
		}
		ret = walk(n->child[0], family, peer, cb, ctx);
		if (ret)
			return ret;
	}
	return 0;
}

int elk_wg_allowedips_walk_peer(const struct elk_wg_allowedips *t, void *peer,
				elk_wg_aip_cb cb, void *ctx)
{
	int ret;

	if (!peer)
		return 0;
	ret = walk(t->root4, AF_INET, peer, cb, ctx);
	if (ret)
		return ret;
	return walk(t->root6, AF_INET6, peer, cb, ctx);
}

/* Counts owned and all nodes below n; false on a broken invariant. */
static bool verify(const struct elk_wg_aip_node *n,
		   const struct elk_wg_aip_node *parent, unsigned bits,
		   size_t *owned, size_t *all)
{
	uint8_t k[16];

	if (!n)
		return true;
	mask_key(k, n->key, n->cidr);
	if (n->parent != parent || n->cidr > bits || memcmp(k, n->key, 16))
		return false;
	if (parent && (n->cidr <= parent->cidr ||
		       !prefix_contains(parent, n->key) ||
		       parent->child[bit_at(n->key, parent->cidr)] != n))
		return false;
	if (!n->peer && !(n->child[0] && n->child[1]))
		return false;
	*owned += n->peer != NULL;
	(*all)++;
	return verify(n->child[0], n, bits, owned, all) &&
	       verify(n->child[1], n, bits, owned, all);
}

int elk_wg_allowedips_verify(const struct elk_wg_allowedips *t)
{
	size_t owned = 0, all = 0;

	if (!verify(t->root4, NULL, 32, &owned, &all) ||
	    !verify(t->root6, NULL, 128, &owned, &all) ||
	    owned != t->count || all != t->nodes)
		return -EUCLEAN;
	return 0;
}

static void free_tree(struct elk_wg_aip_node *n)
{
	while (n) {
		struct elk_wg_aip_node *right = n->child[1];

		free_tree(n->child[0]);
		free(n);
		n = right;
	}
}

void elk_wg_allowedips_init(struct elk_wg_allowedips *t)
{
	memset(t, 0, sizeof(*t));
}

void elk_wg_allowedips_free(struct elk_wg_allowedips *t)
{
	free_tree(t->root4);
	free_tree(t->root6);
	elk_wg_allowedips_init(t);
}
