/* test_wg_genl.c - netlink messages of the "wireguard" generic netlink
 * family (the kernel's include/uapi/linux/wireguard.h), built and parsed
 * without a kernel: attribute nesting, the split of a large change set at
 * the buffer limit (and its parse back, as if the kernel had sent the
 * messages as a dump), joining a peer split across dump replies, and error
 * replies (NLMSG_ERROR, the error code in NLMSG_DONE).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <stdlib.h>

#include "t.h"
#include "wg_genl.h"

#define FAMILY 0x20
#define PEER_CONFIG_FLAGS                                                                 \
	(ELK_PEER_PRESHARED_KEY | ELK_PEER_ENDPOINT | ELK_PEER_KEEPALIVE | ELK_PEER_ALLOWED_IPS | \
	 ELK_PEER_REPLACE_ALLOWED_IPS | ELK_PEER_REMOVE | ELK_PEER_UPDATE_ONLY)

static void fill_key(uint8_t k[ELK_KEY_LEN], unsigned seed, unsigned salt)
{
	for (unsigned i = 0; i < ELK_KEY_LEN; i++)
		k[i] = (uint8_t)(seed * 31 + i * 7 + salt + (seed >> 8));
	k[0] = (uint8_t)seed;
	k[1] = (uint8_t)(seed >> 8);
	k[2] = (uint8_t)salt;
}

static void cidr(struct elk_cidr *c, const char *s)
{
	if (elk_cidr_parse(s, c))
		abort();
	elk_cidr_mask(c);
}

/* n peers, each with naips allowed IPs (IPv4 and IPv6 in turn), every
 * third with a preshared key, endpoints alternating between families. */
static void make_device(struct elk_device *d, size_t n, size_t naips)
{
	memset(d, 0, sizeof(*d));
	d->flags = ELK_DEV_PRIVATE_KEY | ELK_DEV_LISTEN_PORT | ELK_DEV_FWMARK | ELK_DEV_REPLACE_PEERS;
	fill_key(d->private_key, 9999, 1);
	d->listen_port = 51820;
	d->fwmark = 0x1234;
	d->peers = calloc(n, sizeof(*d->peers));
	d->n_peers = n;
	for (size_t i = 0; i < n; i++) {
		struct elk_peer *p = &d->peers[i];
		char buf[64];

		fill_key(p->public_key, (unsigned)i, 2);
		p->flags = ELK_PEER_ALLOWED_IPS | ELK_PEER_REPLACE_ALLOWED_IPS | ELK_PEER_ENDPOINT |
			   ELK_PEER_KEEPALIVE;
		if (i % 3 == 0) {
			p->flags |= ELK_PEER_PRESHARED_KEY;
			fill_key(p->preshared_key, (unsigned)i, 3);
		}
		if (i % 2)
			snprintf(p->endpoint, sizeof(p->endpoint), "198.18.%zu.%zu:%zu", i / 256,
				 i % 256, 1000 + i);
		else
			snprintf(p->endpoint, sizeof(p->endpoint), "[2001:db8::%zx]:%zu", i + 1, 2000 + i);
		p->persistent_keepalive_interval = (uint16_t)(i % 30);
		p->allowed_ips = calloc(naips ? naips : 1, sizeof(*p->allowed_ips));
		p->n_allowed_ips = naips;
		for (size_t j = 0; j < naips; j++) {
			if (j % 2)
				snprintf(buf, sizeof(buf), "fd00:%zx:%zx::/%zu", i, j, 48 + j % 80);
			else
				snprintf(buf, sizeof(buf), "10.%zu.%zu.%zu/32", i / 256, i % 256, j % 256);
			cidr(&p->allowed_ips[j], buf);
		}
	}
}

static bool same_cidrs(const struct elk_peer *a, const struct elk_peer *b)
{
	if (a->n_allowed_ips != b->n_allowed_ips)
		return false;
	for (size_t j = 0; j < a->n_allowed_ips; j++) {
		const struct elk_cidr *x = &a->allowed_ips[j], *y = &b->allowed_ips[j];

		if (x->family != y->family || x->len != y->len || memcmp(x->addr, y->addr, 16))
			return false;
	}
	return true;
}

/* Configuration fields equal (statistics not compared). */
static void check_same(const struct elk_device *want, const struct elk_device *got,
		       const char *what)
{
	size_t bad = 0;

	T_EQ_INT(got->flags & ~(uint32_t)ELK_DEV_NAME, want->flags, what);
	T_CHECK(!memcmp(got->private_key, want->private_key, ELK_KEY_LEN), "%s: private key", what);
	T_EQ_INT(got->listen_port, want->listen_port, what);
	T_EQ_INT(got->fwmark, want->fwmark, what);
	T_EQ_INT(got->n_peers, want->n_peers, what);
	for (size_t i = 0; i < want->n_peers && i < got->n_peers; i++) {
		const struct elk_peer *a = &want->peers[i], *b = &got->peers[i];

		if (memcmp(a->public_key, b->public_key, ELK_KEY_LEN) ||
		    (a->flags & PEER_CONFIG_FLAGS) != (b->flags & PEER_CONFIG_FLAGS) ||
		    ((a->flags & ELK_PEER_PRESHARED_KEY) &&
		     memcmp(a->preshared_key, b->preshared_key, ELK_KEY_LEN)) ||
		    ((a->flags & ELK_PEER_ENDPOINT) && strcmp(a->endpoint, b->endpoint)) ||
		    a->persistent_keepalive_interval != b->persistent_keepalive_interval ||
		    !same_cidrs(a, b)) {
			if (!bad++)
				fprintf(stderr, "%s: first difference at peer %zu (%s vs %s, %zu vs %zu ips)\n",
					what, i, a->endpoint, b->endpoint, a->n_allowed_ips,
					b->n_allowed_ips);
		}
	}
	T_EQ_INT(bad, 0, what);
}

struct msgs {
	char *buf;
	size_t len, cap;
	unsigned n;
	size_t maxlen;
};

/* Builds every SET message of d with messages of at most msgcap bytes, one
 * after another in m->buf, marked as multipart replies of a dump. */
static int build_all(const struct elk_device *d, size_t msgcap, struct msgs *m)
{
	struct elk_wg_set_iter it;
	struct nlmsghdr *nlh;
	int r;

	m->cap = 8 << 20;
	m->buf = calloc(1, m->cap);
	m->len = 0;
	m->n = 0;
	m->maxlen = 0;
	elk_wg_set_iter_init(&it, d);
	while ((r = elk_wg_build_set(m->buf + m->len, msgcap, FAMILY, "wg0", &it, &nlh)) == 1) {
		nlh->nlmsg_flags |= NLM_F_MULTI;
		nlh->nlmsg_seq = 7;
		if (nlh->nlmsg_len > m->maxlen)
			m->maxlen = nlh->nlmsg_len;
		m->len += MNL_ALIGN(nlh->nlmsg_len);
		m->n++;
		if (m->len + msgcap + 64 > m->cap)
			return -ENOSPC;
	}
	return r;
}

static void put_done(struct msgs *m, int err)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(m->buf + m->len);
	int *e;

	nlh->nlmsg_type = NLMSG_DONE;
	nlh->nlmsg_flags = NLM_F_MULTI;
	nlh->nlmsg_seq = 7;
	e = mnl_nlmsg_put_extra_header(nlh, sizeof(int));
	*e = err;
	m->len += MNL_ALIGN(nlh->nlmsg_len);
}

static void test_nesting(void)
{
	struct elk_device d, got = { 0 };
	struct elk_wg_set_iter it;
	struct nlmsghdr *nlh;
	char buf[ELK_WG_MSG_SIZE];
	const struct nlattr *a, *p, *x;
	unsigned top = 0, peers = 0, aips = 0;

	make_device(&d, 2, 3);
	d.peers[1].flags |= ELK_PEER_REMOVE;
	elk_wg_set_iter_init(&it, &d);
	T_EQ_INT(elk_wg_build_set(buf, sizeof(buf), FAMILY, "wg0", &it, &nlh), 1, "one message");
	T_EQ_INT(nlh->nlmsg_type, FAMILY, "addressed to the family");
	T_EQ_INT(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK, "request flags");
	T_EQ_INT(((struct genlmsghdr *)mnl_nlmsg_get_payload(nlh))->cmd, WG_CMD_SET_DEVICE, "cmd");
	T_EQ_INT(((struct genlmsghdr *)mnl_nlmsg_get_payload(nlh))->version, WG_GENL_VERSION,
		 "version");
	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		top++;
		switch (mnl_attr_get_type(a)) {
		case WGDEVICE_A_IFNAME:
			T_EQ_STR(mnl_attr_get_str(a), "wg0", "ifname");
			break;
		case WGDEVICE_A_FLAGS:
			T_EQ_INT(mnl_attr_get_u32(a), WGDEVICE_F_REPLACE_PEERS, "device flags");
			break;
		case WGDEVICE_A_LISTEN_PORT:
			T_EQ_INT(mnl_attr_get_u16(a), 51820, "listen port");
			break;
		case WGDEVICE_A_PEERS:
			/* The kernel's nla_parse_nested insists on NLA_F_NESTED. */
			T_CHECK(a->nla_type & NLA_F_NESTED, "peers nest flagged NLA_F_NESTED");
			mnl_attr_for_each_nested(p, a) {
				T_CHECK(p->nla_type & NLA_F_NESTED, "peer nest flagged");
				peers++;
				mnl_attr_for_each_nested(x, p) {
					const struct nlattr *y;

					if (mnl_attr_get_type(x) == WGPEER_A_FLAGS)
						T_EQ_INT(mnl_attr_get_u32(x),
							 peers == 1 ? WGPEER_F_REPLACE_ALLOWEDIPS
								    : WGPEER_F_REMOVE_ME |
									      WGPEER_F_REPLACE_ALLOWEDIPS,
							 "peer flags");
					if (mnl_attr_get_type(x) == WGPEER_A_ENDPOINT)
						T_EQ_INT(mnl_attr_get_payload_len(x),
							 peers == 1 ? sizeof(struct sockaddr_in6)
								    : sizeof(struct sockaddr_in),
							 "endpoint sockaddr size");
					if (mnl_attr_get_type(x) != WGPEER_A_ALLOWEDIPS)
						continue;
					T_CHECK(x->nla_type & NLA_F_NESTED, "allowed IPs nest flagged");
					mnl_attr_for_each_nested(y, x)
						aips++;
				}
			}
			break;
		}
	}
	T_EQ_INT(top, 6, "ifname, flags, private key, port, fwmark, peers");
	T_EQ_INT(peers, 2, "two peers");
	T_EQ_INT(aips, 3, "allowed IPs of the peer kept; none sent for the removed one");
	T_EQ_INT(elk_wg_build_set(buf, sizeof(buf), FAMILY, "wg0", &it, &nlh), 0, "then done");

	/* Parsed back: the same configuration (the removed peer's allowed
	 * IPs were not sent). */
	T_EQ_INT(elk_wg_parse_device(nlh, &got), 0, "parse own message");
	free(d.peers[1].allowed_ips);
	d.peers[1].allowed_ips = NULL;
	d.peers[1].n_allowed_ips = 0;
	d.peers[1].flags &= ~(uint32_t)ELK_PEER_ALLOWED_IPS;
	check_same(&d, &got, "small round trip");
	elk_device_clear(&got);
	elk_device_clear(&d);

	/* An empty change is still one message, naming the device. */
	memset(&d, 0, sizeof(d));
	elk_wg_set_iter_init(&it, &d);
	T_EQ_INT(elk_wg_build_set(buf, sizeof(buf), FAMILY, "wg0", &it, &nlh), 1, "empty change");
	T_EQ_INT(elk_wg_build_set(buf, sizeof(buf), FAMILY, "wg0", &it, &nlh), 0, "one message");
}

/* Checks the rules of the split on the messages in m. */
static void check_split_rules(const struct msgs *m, const char *what)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)m->buf;
	size_t left = m->len;
	uint8_t last_key[ELK_KEY_LEN] = { 0 };
	unsigned idx = 0, dev_fields_later = 0, flags_on_continuation = 0, continued = 0;

	while (mnl_nlmsg_ok(nlh, (int)left)) {
		const struct nlattr *a, *p, *x;

		mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
			unsigned t = mnl_attr_get_type(a);
			bool first_peer = true;

			if (idx > 0 && t != WGDEVICE_A_IFNAME && t != WGDEVICE_A_PEERS)
				dev_fields_later++;
			if (t != WGDEVICE_A_PEERS)
				continue;
			mnl_attr_for_each_nested(p, a) {
				bool cont = false;

				mnl_attr_for_each_nested(x, p) {
					if (mnl_attr_get_type(x) == WGPEER_A_PUBLIC_KEY && first_peer &&
					    !memcmp(mnl_attr_get_payload(x), last_key, ELK_KEY_LEN))
						cont = true;
					if (mnl_attr_get_type(x) == WGPEER_A_PUBLIC_KEY)
						memcpy(last_key, mnl_attr_get_payload(x), ELK_KEY_LEN);
				}
				if (cont) {
					continued++;
					mnl_attr_for_each_nested(x, p) {
						unsigned pt = mnl_attr_get_type(x);

						if (pt != WGPEER_A_PUBLIC_KEY && pt != WGPEER_A_ALLOWEDIPS)
							flags_on_continuation++;
					}
				}
				first_peer = false;
			}
		}
		idx++;
		left -= MNL_ALIGN(nlh->nlmsg_len) < left ? MNL_ALIGN(nlh->nlmsg_len) : left;
		nlh = (const struct nlmsghdr *)((const char *)nlh + MNL_ALIGN(nlh->nlmsg_len));
	}
	T_EQ_INT(dev_fields_later, 0, what);
	T_EQ_INT(flags_on_continuation, 0, what);
	T_CHECK(continued > 0, "%s: some peer continues in the next message", what);
}

static void test_split(void)
{
	struct elk_device d, got = { 0 };
	struct msgs m;

	/* 1000 peers with 5 allowed IPs each: far more than one message. */
	make_device(&d, 1000, 5);
	T_EQ_INT(build_all(&d, ELK_WG_MSG_SIZE, &m), 0, "build 1000 peers");
	T_CHECK(m.n > 20, "split into many messages (%u)", m.n);
	T_CHECK(m.maxlen <= ELK_WG_MSG_SIZE, "no message over the limit (%zu)", m.maxlen);
	T_CHECK(m.maxlen > ELK_WG_MSG_SIZE - 200, "messages filled (%zu)", m.maxlen);
	check_split_rules(&m, "1000 peers");
	put_done(&m, 0);
	T_EQ_INT(elk_wg_parse_dump(m.buf, m.len, 7, 0, &got), 0, "parse as a dump");
	check_same(&d, &got, "1000 peers round trip");
	elk_device_clear(&got);
	free(m.buf);
	elk_device_clear(&d);

	/* A few peers with many allowed IPs in the smallest buffer: each
	 * peer continues over several messages. */
	make_device(&d, 7, 150);
	T_EQ_INT(build_all(&d, ELK_WG_MSG_MIN, &m), 0, "build in small messages");
	T_CHECK(m.n > 7 * 10, "one peer over many messages (%u)", m.n);
	T_CHECK(m.maxlen <= ELK_WG_MSG_MIN, "no message over the limit (%zu)", m.maxlen);
	check_split_rules(&m, "small messages");
	put_done(&m, 0);
	memset(&got, 0, sizeof(got));
	T_EQ_INT(elk_wg_parse_dump(m.buf, m.len, 7, 0, &got), 0, "parse as a dump");
	check_same(&d, &got, "many allowed IPs round trip");
	elk_device_clear(&got);
	free(m.buf);
	elk_device_clear(&d);

	/* One message, peers of different sizes at every buffer size
	 * from the smallest up: always the same device comes back. */
	make_device(&d, 40, 3);
	for (size_t k = 0; k < d.n_peers; k += 5) {
		d.peers[k].flags &= ~(uint32_t)(ELK_PEER_ENDPOINT | ELK_PEER_KEEPALIVE);
		d.peers[k].persistent_keepalive_interval = 0;
	}
	for (size_t cap = ELK_WG_MSG_MIN; cap < 1200; cap += 37) {
		char what[64];

		snprintf(what, sizeof(what), "buffer %zu", cap);
		memset(&got, 0, sizeof(got));
		T_EQ_INT(build_all(&d, cap, &m), 0, what);
		put_done(&m, 0);
		T_EQ_INT(elk_wg_parse_dump(m.buf, m.len, 7, 0, &got), 0, what);
		check_same(&d, &got, what);
		elk_device_clear(&got);
		free(m.buf);
	}
	elk_device_clear(&d);
}

/* A dump as the kernel writes it: peer 1 with statistics and two allowed
 * IPs, continued in a second message with one more; then peer 2. */
static void test_join_dump(void)
{
	char buf[4096];
	size_t off = 0;
	struct elk_device d = { 0 };
	uint8_t k1[ELK_KEY_LEN], k2[ELK_KEY_LEN];
	struct elk_cidr c;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(51820) };
	int64_t ts[2] = { 1700000000, 5 };

	fill_key(k1, 1, 9);
	fill_key(k2, 2, 9);
	inet_pton(AF_INET, "192.0.2.7", &sin.sin_addr);
	for (int msg = 0; msg < 2; msg++) {
		struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf + off);
		struct genlmsghdr *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
		struct nlattr *peers, *p, *aips, *ip;

		nlh->nlmsg_type = FAMILY;
		nlh->nlmsg_flags = NLM_F_MULTI;
		nlh->nlmsg_seq = 9;
		nlh->nlmsg_pid = 4242;
		g->cmd = WG_CMD_GET_DEVICE;
		g->version = 1;
		mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, "wg7");
		if (msg == 0) {
			mnl_attr_put_u32(nlh, WGDEVICE_A_IFINDEX, 5);
			mnl_attr_put_u16(nlh, WGDEVICE_A_LISTEN_PORT, 4000);
			mnl_attr_put_u32(nlh, WGDEVICE_A_FWMARK, 0);
		}
		peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
		p = mnl_attr_nest_start(nlh, 0);
		mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, ELK_KEY_LEN, k1);
		if (msg == 0) {
			uint8_t zero[ELK_KEY_LEN] = { 0 };

			mnl_attr_put(nlh, WGPEER_A_PRESHARED_KEY, ELK_KEY_LEN, zero);
			mnl_attr_put(nlh, WGPEER_A_ENDPOINT, sizeof(sin), &sin);
			mnl_attr_put_u16(nlh, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 25);
			mnl_attr_put(nlh, WGPEER_A_LAST_HANDSHAKE_TIME, sizeof(ts), ts);
			mnl_attr_put_u64(nlh, WGPEER_A_RX_BYTES, 1234);
			mnl_attr_put_u64(nlh, WGPEER_A_TX_BYTES, 5678);
			mnl_attr_put_u32(nlh, WGPEER_A_PROTOCOL_VERSION, 1);
		}
		aips = mnl_attr_nest_start(nlh, WGPEER_A_ALLOWEDIPS);
		for (int j = 0; j < (msg == 0 ? 2 : 1); j++) {
			uint8_t a4[4] = { 10, 0, 0, (uint8_t)(msg * 2 + j + 1) };

			ip = mnl_attr_nest_start(nlh, 0);
			mnl_attr_put_u16(nlh, WGALLOWEDIP_A_FAMILY, AF_INET);
			mnl_attr_put(nlh, WGALLOWEDIP_A_IPADDR, 4, a4);
			mnl_attr_put_u8(nlh, WGALLOWEDIP_A_CIDR_MASK, 32);
			mnl_attr_nest_end(nlh, ip);
		}
		mnl_attr_nest_end(nlh, aips);
		mnl_attr_nest_end(nlh, p);
		if (msg == 1) {
			p = mnl_attr_nest_start(nlh, 0);
			mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, ELK_KEY_LEN, k2);
			mnl_attr_nest_end(nlh, p);
		}
		mnl_attr_nest_end(nlh, peers);
		off += MNL_ALIGN(nlh->nlmsg_len);
	}
	/* One recv() may end before NLMSG_DONE: more is due. */
	T_EQ_INT(elk_wg_parse_dump(buf, off, 9, 4242, &d), 1, "more due before NLMSG_DONE");
	{
		struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

		nlh->nlmsg_type = NLMSG_DONE;
		nlh->nlmsg_flags = NLM_F_MULTI;
		nlh->nlmsg_seq = 9;
		*(int *)mnl_nlmsg_put_extra_header(nlh, sizeof(int)) = 0;
		T_EQ_INT(elk_wg_parse_dump(buf, nlh->nlmsg_len, 9, 4242, &d), 0, "done");
	}
	T_EQ_STR(d.name, "wg7", "name");
	T_EQ_INT(d.listen_port, 4000, "listen port");
	T_EQ_INT(d.n_peers, 2, "the split peer joined: two peers");
	if (d.n_peers == 2) {
		struct elk_peer *p = &d.peers[0];

		T_EQ_INT(p->n_allowed_ips, 3, "three allowed IPs on peer 1");
		cidr(&c, "10.0.0.3/32");
		T_CHECK(p->n_allowed_ips == 3 && !memcmp(p->allowed_ips[2].addr, c.addr, 4),
			"the continued allowed IP comes last");
		T_EQ_STR(p->endpoint, "192.0.2.7:51820", "endpoint");
		T_EQ_INT(p->persistent_keepalive_interval, 25, "keepalive");
		T_EQ_INT(p->last_handshake, 1700000000, "handshake seconds");
		T_EQ_INT(p->rx_bytes, 1234, "rx");
		T_EQ_INT(p->tx_bytes, 5678, "tx");
		T_CHECK(!(p->flags & ELK_PEER_PRESHARED_KEY), "zero preshared key means none");
		T_CHECK(!memcmp(d.peers[1].public_key, k2, ELK_KEY_LEN), "peer 2 key");
		T_EQ_INT(d.peers[1].n_allowed_ips, 0, "peer 2 has none");
	}
	elk_device_clear(&d);
}

static size_t put_error(char *buf, int error, uint32_t seq, uint16_t type)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nlmsgerr *err;

	nlh->nlmsg_type = type;
	nlh->nlmsg_seq = seq;
	err = mnl_nlmsg_put_extra_header(nlh, sizeof(*err));
	err->error = error;
	err->msg.nlmsg_seq = seq;
	return nlh->nlmsg_len;
}

static void test_errors(void)
{
	char buf[512];
	struct elk_device d = { 0 };
	uint16_t id = 0;
	size_t n;

	n = put_error(buf, -EINVAL, 3, NLMSG_ERROR);
	T_EQ_INT(elk_wg_parse_ack(buf, n, 3, 0), -EINVAL, "NLMSG_ERROR -EINVAL on a set");
	T_EQ_INT(elk_wg_parse_dump(buf, n, 3, 0, &d), -EINVAL, "NLMSG_ERROR on a dump");
	n = put_error(buf, -ENODEV, 3, NLMSG_ERROR);
	T_EQ_INT(elk_wg_parse_dump(buf, n, 3, 0, &d), -ENODEV, "no such device");
	n = put_error(buf, 0, 3, NLMSG_ERROR);
	T_EQ_INT(elk_wg_parse_ack(buf, n, 3, 0), 0, "an ACK");
	T_EQ_INT(elk_wg_parse_ack(buf, n, 4, 0), -EPROTO, "someone else's sequence number");
	n = put_error(buf, -ENOENT, 3, NLMSG_ERROR);
	T_EQ_INT(elk_wg_parse_family(buf, n, 3, 0, &id), -ENOENT, "no such family (no module)");

	/* The error code NLMSG_DONE carries at the end of a dump. */
	{
		struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

		nlh->nlmsg_type = NLMSG_DONE;
		nlh->nlmsg_seq = 3;
		*(int *)mnl_nlmsg_put_extra_header(nlh, sizeof(int)) = -EMSGSIZE;
		T_EQ_INT(elk_wg_parse_dump(buf, nlh->nlmsg_len, 3, 0, &d), -EMSGSIZE,
			 "error in NLMSG_DONE");
	}
	/* The controller's answer. */
	{
		struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
		struct genlmsghdr *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));

		nlh->nlmsg_type = GENL_ID_CTRL;
		nlh->nlmsg_seq = 3;
		g->cmd = CTRL_CMD_NEWFAMILY;
		mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, "wireguard");
		mnl_attr_put_u16(nlh, CTRL_ATTR_FAMILY_ID, 32);
		T_EQ_INT(elk_wg_parse_family(buf, nlh->nlmsg_len, 3, 0, &id), 0, "family found");
		T_EQ_INT(id, 32, "family id");
	}
	/* Malformed replies. */
	{
		struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
		struct nlattr *peers, *p, *aips, *ip;
		uint8_t k[ELK_KEY_LEN] = { 1 }, a16[16] = { 0 };

		mnl_nlmsg_put_extra_header(nlh, sizeof(struct genlmsghdr));
		nlh->nlmsg_type = FAMILY;
		peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
		p = mnl_attr_nest_start(nlh, 0);
		mnl_attr_put_u16(nlh, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 1);
		mnl_attr_nest_end(nlh, p);
		mnl_attr_nest_end(nlh, peers);
		T_EQ_INT(elk_wg_parse_device(nlh, &d), -EINVAL, "a peer without a public key");
		elk_device_clear(&d);

		nlh = mnl_nlmsg_put_header(buf);
		mnl_nlmsg_put_extra_header(nlh, sizeof(struct genlmsghdr));
		peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
		p = mnl_attr_nest_start(nlh, 0);
		mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, ELK_KEY_LEN, k);
		aips = mnl_attr_nest_start(nlh, WGPEER_A_ALLOWEDIPS);
		ip = mnl_attr_nest_start(nlh, 0);
		mnl_attr_put_u16(nlh, WGALLOWEDIP_A_FAMILY, AF_INET);
		mnl_attr_put(nlh, WGALLOWEDIP_A_IPADDR, 16, a16);
		mnl_attr_put_u8(nlh, WGALLOWEDIP_A_CIDR_MASK, 32);
		mnl_attr_nest_end(nlh, ip);
		mnl_attr_nest_end(nlh, aips);
		mnl_attr_nest_end(nlh, p);
		mnl_attr_nest_end(nlh, peers);
		T_EQ_INT(elk_wg_parse_device(nlh, &d), -EINVAL, "IPv4 family with 16 address bytes");
		elk_device_clear(&d);

		nlh = mnl_nlmsg_put_header(buf);
		mnl_nlmsg_put_extra_header(nlh, sizeof(struct genlmsghdr));
		mnl_attr_put(nlh, WGDEVICE_A_PRIVATE_KEY, 31, k);
		T_EQ_INT(elk_wg_parse_device(nlh, &d), -EINVAL, "a 31-byte key");
		elk_device_clear(&d);
	}
}

static void test_build_errors(void)
{
	struct elk_device d;
	struct elk_wg_set_iter it;
	struct nlmsghdr *nlh;
	char buf[ELK_WG_MSG_SIZE];

	make_device(&d, 3, 2);
	strcpy(d.peers[2].endpoint, "vpn.example.org:51820");
	elk_wg_set_iter_init(&it, &d);
	T_EQ_INT(elk_wg_build_set(buf, sizeof(buf), FAMILY, "wg0", &it, &nlh), -EINVAL,
		 "a name as endpoint: resolve first, nothing built");
	strcpy(d.peers[2].endpoint, "198.18.0.1:1");
	elk_wg_set_iter_init(&it, &d);
	T_EQ_INT(elk_wg_build_set(buf, ELK_WG_MSG_MIN - 1, FAMILY, "wg0", &it, &nlh), -EMSGSIZE,
		 "buffer below the minimum");
	T_EQ_INT(elk_wg_build_set(buf, sizeof(buf), FAMILY, "much-too-long-ifname", &it, &nlh),
		 -EINVAL, "interface name too long");
	T_EQ_INT(elk_wg_build_get(buf, sizeof(buf), FAMILY, "wg0", &nlh), 0, "get request");
	T_EQ_INT(nlh->nlmsg_flags & NLM_F_DUMP, NLM_F_DUMP, "get is a dump");
	elk_device_clear(&d);
}

static void test_endpoints(void)
{
	static const char *const ok[] = { "192.0.2.1:51820", "[2001:db8::1]:1", "[fe80::1%3]:65535" };
	struct sockaddr_storage ss;
	size_t len;
	char out[ELK_ENDPOINT_MAX];

	for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
		T_EQ_INT(elk_wg_endpoint_to_sockaddr(ok[i], &ss, &len), 0, ok[i]);
		T_EQ_INT(elk_wg_sockaddr_to_endpoint(&ss, len, out, sizeof(out)), 0, ok[i]);
		T_EQ_STR(out, ok[i], "endpoint round trip");
	}
	T_EQ_INT(elk_wg_endpoint_to_sockaddr("2001:db8::1:5", &ss, &len), -EINVAL,
		 "IPv6 without brackets");
	T_EQ_INT(elk_wg_endpoint_to_sockaddr("host:5", &ss, &len), -EINVAL, "a name");
	T_EQ_INT(elk_wg_sockaddr_to_endpoint(&ss, 2, out, sizeof(out)), -EINVAL, "short sockaddr");
}

int main(void)
{
	test_nesting();
	test_split();
	test_join_dump();
	test_errors();
	test_build_errors();
	test_endpoints();
	return T_DONE();
}
