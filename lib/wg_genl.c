/* wg_genl.c - the "wireguard" generic netlink family through libmnl: SET
 * messages built from a change set (split over several messages when it
 * does not fit one), GET dumps parsed back into the device model (joining
 * what the kernel split), and the socket I/O that sends and receives them.
 * The protocol is the kernel's include/uapi/linux/wireguard.h; the split
 * follows the rules written there (see wg_genl.h).
 */
#include "wg_genl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct nlmsghdr *put_genl_header(void *buf, uint16_t type, uint16_t flags, uint8_t cmd,
					uint8_t version)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = version;
	return nlh;
}

static bool ifname_ok(const char *ifname)
{
	return ifname && *ifname && strlen(ifname) < IFNAMSIZ;
}

int elk_wg_endpoint_to_sockaddr(const char *s, struct sockaddr_storage *ss, size_t *len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	char host[256], *pct;
	uint16_t port;

	memset(ss, 0, sizeof(*ss));
	if (elk_endpoint_split(s, host, sizeof(host), &port))
		return -EINVAL;
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		*len = sizeof(*in4);
		return 0;
	}
	/* A link-local IPv6 endpoint needs its interface: "[fe80::1%2]" or
	 * "[fe80::1%eth0]". */
	if ((pct = strchr(host, '%'))) {
		char *end;
		unsigned long idx;

		*pct++ = 0;
		idx = strtoul(pct, &end, 10);
		if (*end || end == pct)
			idx = if_nametoindex(pct);
		if (!idx || idx > UINT32_MAX)
			return -EINVAL;
		in6->sin6_scope_id = (uint32_t)idx;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
		return -EINVAL; /* a name: the caller resolves it first */
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(port);
	*len = sizeof(*in6);
	return 0;
}

int elk_wg_sockaddr_to_endpoint(const void *sa, size_t len, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];
	int n;

	if (len >= sizeof(struct sockaddr_in) &&
	    ((const struct sockaddr *)sa)->sa_family == AF_INET) {
		struct sockaddr_in in4;

		memcpy(&in4, sa, sizeof(in4));
		inet_ntop(AF_INET, &in4.sin_addr, ip, sizeof(ip));
		n = snprintf(out, cap, "%s:%u", ip, ntohs(in4.sin_port));
	} else if (len >= sizeof(struct sockaddr_in6) &&
		   ((const struct sockaddr *)sa)->sa_family == AF_INET6) {
		struct sockaddr_in6 in6;

		memcpy(&in6, sa, sizeof(in6));
		inet_ntop(AF_INET6, &in6.sin6_addr, ip, sizeof(ip));
		if (in6.sin6_scope_id)
			n = snprintf(out, cap, "[%s%%%u]:%u", ip, in6.sin6_scope_id,
				     ntohs(in6.sin6_port));
		else
			n = snprintf(out, cap, "[%s]:%u", ip, ntohs(in6.sin6_port));
	} else {
		return -EINVAL;
	}
	return n < 0 || (size_t)n >= cap ? -EINVAL : 0;
}

void elk_wg_set_iter_init(struct elk_wg_set_iter *it, const struct elk_device *change)
{
	memset(it, 0, sizeof(*it));
	it->change = change;
}

static size_t peer_aips(const struct elk_peer *p)
{
	if ((p->flags & ELK_PEER_REMOVE) || !(p->flags & ELK_PEER_ALLOWED_IPS))
		return 0;
	return p->n_allowed_ips;
}

static bool put_aip(struct nlmsghdr *nlh, size_t cap, const struct elk_cidr *c)
{
	struct nlattr *n = mnl_attr_nest_start_check(nlh, cap, 0);

	if (!n)
		return false;
	if (!mnl_attr_put_check(nlh, cap, WGALLOWEDIP_A_FAMILY, sizeof(uint16_t),
				&(uint16_t){ (uint16_t)c->family }) ||
	    !mnl_attr_put_check(nlh, cap, WGALLOWEDIP_A_IPADDR, c->family == AF_INET ? 4 : 16,
				c->addr) ||
	    !mnl_attr_put_check(nlh, cap, WGALLOWEDIP_A_CIDR_MASK, sizeof(uint8_t), &c->len)) {
		mnl_attr_nest_cancel(nlh, n);
		return false;
	}
	mnl_attr_nest_end(nlh, n);
	return true;
}

/* Writes what fits of the peer at it's position: 1 when the peer is
 * complete, 0 when the message is full (it says where to go on). *wrote is
 * set when anything went into the message. */
static int put_peer(struct nlmsghdr *nlh, size_t cap, const struct elk_peer *p,
		    struct elk_wg_set_iter *it, bool *wrote)
{
	bool first = !it->peer_begun;
	size_t i = it->aip, n = peer_aips(p);
	struct nlattr *pn, *an;

	pn = mnl_attr_nest_start_check(nlh, cap, 0);
	if (!pn)
		return 0;
	if (!mnl_attr_put_check(nlh, cap, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN, p->public_key))
		goto cancel;
	if (first) {
		uint32_t fl = 0;

		if (p->flags & ELK_PEER_REMOVE)
			fl |= WGPEER_F_REMOVE_ME;
		if (p->flags & ELK_PEER_REPLACE_ALLOWED_IPS)
			fl |= WGPEER_F_REPLACE_ALLOWEDIPS;
		if (p->flags & ELK_PEER_UPDATE_ONLY)
			fl |= WGPEER_F_UPDATE_ONLY;
		if (fl && !mnl_attr_put_check(nlh, cap, WGPEER_A_FLAGS, sizeof(fl), &fl))
			goto cancel;
		if ((p->flags & ELK_PEER_PRESHARED_KEY) &&
		    !mnl_attr_put_check(nlh, cap, WGPEER_A_PRESHARED_KEY, WG_KEY_LEN,
					p->preshared_key))
			goto cancel;
		if (p->flags & ELK_PEER_ENDPOINT) {
			struct sockaddr_storage ss;
			size_t sslen;

			/* Checked before the first message was built. */
			if (elk_wg_endpoint_to_sockaddr(p->endpoint, &ss, &sslen) ||
			    !mnl_attr_put_check(nlh, cap, WGPEER_A_ENDPOINT, sslen, &ss))
				goto cancel;
		}
		if ((p->flags & ELK_PEER_KEEPALIVE) &&
		    !mnl_attr_put_check(nlh, cap, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL,
					sizeof(uint16_t), &p->persistent_keepalive_interval))
			goto cancel;
	}
	if (i < n) {
		an = mnl_attr_nest_start_check(nlh, cap, WGPEER_A_ALLOWEDIPS);
		if (an) {
			while (i < n && put_aip(nlh, cap, &p->allowed_ips[i]))
				i++;
			if (i > it->aip)
				mnl_attr_nest_end(nlh, an);
			else
				mnl_attr_nest_cancel(nlh, an);
		}
		/* A continuation that carries no allowed IP says nothing. */
		if (i == it->aip && !first)
			goto cancel;
		mnl_attr_nest_end(nlh, pn);
		*wrote = true;
		if (i < n) {
			it->peer_begun = true;
			it->aip = i;
			return 0;
		}
	} else {
		mnl_attr_nest_end(nlh, pn);
		*wrote = true;
	}
	it->peer_begun = false;
	it->aip = 0;
	it->peer++;
	return 1;
cancel:
	mnl_attr_nest_cancel(nlh, pn);
	return 0;
}

int elk_wg_build_set(void *buf, size_t cap, uint16_t family, const char *ifname,
		     struct elk_wg_set_iter *it, struct nlmsghdr **out)
{
	const struct elk_device *c = it->change;
	struct nlmsghdr *nlh;
	bool wrote = false;

	if (it->done)
		return 0;
	if (cap < ELK_WG_MSG_MIN)
		return -EMSGSIZE;
	if (!ifname_ok(ifname))
		return -EINVAL;
	nlh = put_genl_header(buf, family, NLM_F_REQUEST | NLM_F_ACK, WG_CMD_SET_DEVICE,
			      WG_GENL_VERSION);
	mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, ifname);
	if (!it->first_done) {
		uint32_t fl = (c->flags & ELK_DEV_REPLACE_PEERS) ? WGDEVICE_F_REPLACE_PEERS : 0;

		/* Every endpoint is checked before anything is built, so a
		 * bad one stops the change before the kernel sees any of it. */
		for (size_t i = 0; i < c->n_peers; i++) {
			struct sockaddr_storage ss;
			size_t sslen;

			if ((c->peers[i].flags & ELK_PEER_ENDPOINT) &&
			    elk_wg_endpoint_to_sockaddr(c->peers[i].endpoint, &ss, &sslen))
				return -EINVAL;
		}
		/* These fit in ELK_WG_MSG_MIN whatever comes after. */
		if (fl)
			mnl_attr_put_u32(nlh, WGDEVICE_A_FLAGS, fl);
		if (c->flags & ELK_DEV_PRIVATE_KEY)
			mnl_attr_put(nlh, WGDEVICE_A_PRIVATE_KEY, WG_KEY_LEN, c->private_key);
		if (c->flags & ELK_DEV_LISTEN_PORT)
			mnl_attr_put_u16(nlh, WGDEVICE_A_LISTEN_PORT, c->listen_port);
		if (c->flags & ELK_DEV_FWMARK)
			mnl_attr_put_u32(nlh, WGDEVICE_A_FWMARK, c->fwmark);
		it->first_done = true;
		wrote = true;
	}
	if (it->peer < c->n_peers) {
		struct nlattr *peers = mnl_attr_nest_start_check(nlh, cap, WGDEVICE_A_PEERS);
		bool any = false;

		while (peers && it->peer < c->n_peers &&
		       put_peer(nlh, cap, &c->peers[it->peer], it, &any))
			;
		if (any)
			mnl_attr_nest_end(nlh, peers);
		else if (peers)
			mnl_attr_nest_cancel(nlh, peers);
		wrote |= any;
	}
	if (!wrote)
		return -EMSGSIZE;
	if (it->peer >= c->n_peers)
		it->done = true;
	*out = nlh;
	return 1;
}

int elk_wg_build_get(void *buf, size_t cap, uint16_t family, const char *ifname,
		     struct nlmsghdr **out)
{
	struct nlmsghdr *nlh;

	if (cap < ELK_WG_MSG_MIN)
		return -EMSGSIZE;
	if (!ifname_ok(ifname))
		return -EINVAL;
	/* No ACK asked: a dump ends with NLMSG_DONE, and an ACK after it
	 * would be left on the socket for the next request to trip on. */
	nlh = put_genl_header(buf, family, NLM_F_REQUEST | NLM_F_DUMP,
			      WG_CMD_GET_DEVICE, WG_GENL_VERSION);
	mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, ifname);
	*out = nlh;
	return 0;
}

int elk_wg_build_getfamily(void *buf, size_t cap, struct nlmsghdr **out)
{
	struct nlmsghdr *nlh;

	if (cap < ELK_WG_MSG_MIN)
		return -EMSGSIZE;
	/* No ACK asked: the answer (or an NLMSG_ERROR) is the one reply. */
	nlh = put_genl_header(buf, GENL_ID_CTRL, NLM_F_REQUEST, CTRL_CMD_GETFAMILY, 1);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, WG_GENL_NAME);
	*out = nlh;
	return 0;
}

/* Parsing. The kernel is trusted to be well-formed, but a test (or a
 * future kernel) may hand us anything: every length is checked. */

static int parse_aip(const struct nlattr *nest, struct elk_cidr *c)
{
	const struct nlattr *a;
	bool fam = false, addr = false, mask = false;
	size_t alen = 0;

	memset(c, 0, sizeof(*c));
	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case WGALLOWEDIP_A_FAMILY:
			if (mnl_attr_validate(a, MNL_TYPE_U16) < 0)
				return -EINVAL;
			c->family = mnl_attr_get_u16(a);
			fam = true;
			break;
		case WGALLOWEDIP_A_IPADDR:
			alen = mnl_attr_get_payload_len(a);
			if (alen != 4 && alen != 16)
				return -EINVAL;
			memcpy(c->addr, mnl_attr_get_payload(a), alen);
			addr = true;
			break;
		case WGALLOWEDIP_A_CIDR_MASK:
			if (mnl_attr_validate(a, MNL_TYPE_U8) < 0)
				return -EINVAL;
			c->len = mnl_attr_get_u8(a);
			mask = true;
			break;
		}
	}
	if (!fam || !addr || !mask || (c->family != AF_INET && c->family != AF_INET6) ||
	    alen != (c->family == AF_INET ? 4u : 16u) || c->len > elk_family_bits(c->family))
		return -EINVAL;
	return 0;
}

static int append_aips(struct elk_peer *p, const struct elk_cidr *c, size_t n)
{
	struct elk_cidr *g;

	if (!n)
		return 0;
	g = realloc(p->allowed_ips, (p->n_allowed_ips + n) * sizeof(*g));
	if (!g)
		return -ENOMEM;
	memcpy(g + p->n_allowed_ips, c, n * sizeof(*g));
	p->allowed_ips = g;
	p->n_allowed_ips += n;
	return 0;
}

static int parse_aips(const struct nlattr *nest, struct elk_peer *p)
{
	const struct nlattr *a;
	size_t n = 0;
	struct elk_cidr *tmp;
	int r = 0;

	mnl_attr_for_each_nested(a, nest)
		n++;
	p->flags |= ELK_PEER_ALLOWED_IPS;
	if (!n)
		return 0;
	tmp = calloc(n, sizeof(*tmp));
	if (!tmp)
		return -ENOMEM;
	n = 0;
	mnl_attr_for_each_nested(a, nest) {
		if ((r = parse_aip(a, &tmp[n])))
			break;
		n++;
	}
	if (!r)
		r = append_aips(p, tmp, n);
	free(tmp);
	return r;
}

static bool key_attr(const struct nlattr *a)
{
	return mnl_attr_get_payload_len(a) == WG_KEY_LEN;
}

static int parse_peer(const struct nlattr *nest, struct elk_device *d)
{
	struct elk_peer n = { 0 }, *last;
	const struct nlattr *a;
	bool have_key = false, have_stats = false;
	int r = 0;

	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case WGPEER_A_PUBLIC_KEY:
			if (!key_attr(a))
				goto bad;
			memcpy(n.public_key, mnl_attr_get_payload(a), WG_KEY_LEN);
			have_key = true;
			break;
		case WGPEER_A_PRESHARED_KEY:
			if (!key_attr(a))
				goto bad;
			memcpy(n.preshared_key, mnl_attr_get_payload(a), WG_KEY_LEN);
			/* The kernel always sends one: zeros mean none. */
			if (!elk_key_is_zero(n.preshared_key))
				n.flags |= ELK_PEER_PRESHARED_KEY;
			break;
		case WGPEER_A_FLAGS: {
			uint32_t fl;

			if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
				goto bad;
			fl = mnl_attr_get_u32(a);
			if (fl & WGPEER_F_REMOVE_ME)
				n.flags |= ELK_PEER_REMOVE;
			if (fl & WGPEER_F_REPLACE_ALLOWEDIPS)
				n.flags |= ELK_PEER_REPLACE_ALLOWED_IPS;
			if (fl & WGPEER_F_UPDATE_ONLY)
				n.flags |= ELK_PEER_UPDATE_ONLY;
			break;
		}
		case WGPEER_A_ENDPOINT:
			if (elk_wg_sockaddr_to_endpoint(mnl_attr_get_payload(a),
							mnl_attr_get_payload_len(a), n.endpoint,
							sizeof(n.endpoint)))
				goto bad;
			n.flags |= ELK_PEER_ENDPOINT;
			break;
		case WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL:
			if (mnl_attr_validate(a, MNL_TYPE_U16) < 0)
				goto bad;
			n.persistent_keepalive_interval = mnl_attr_get_u16(a);
			n.flags |= ELK_PEER_KEEPALIVE;
			break;
		case WGPEER_A_LAST_HANDSHAKE_TIME: {
			/* struct __kernel_timespec: 64-bit seconds, then
			 * 64-bit nanoseconds. */
			int64_t ts[2];

			if (mnl_attr_get_payload_len(a) != sizeof(ts))
				goto bad;
			memcpy(ts, mnl_attr_get_payload(a), sizeof(ts));
			n.last_handshake = ts[0];
			have_stats = true;
			break;
		}
		case WGPEER_A_RX_BYTES:
			if (mnl_attr_validate(a, MNL_TYPE_U64) < 0)
				goto bad;
			n.rx_bytes = mnl_attr_get_u64(a);
			have_stats = true;
			break;
		case WGPEER_A_TX_BYTES:
			if (mnl_attr_validate(a, MNL_TYPE_U64) < 0)
				goto bad;
			n.tx_bytes = mnl_attr_get_u64(a);
			have_stats = true;
			break;
		case WGPEER_A_ALLOWEDIPS:
			if ((r = parse_aips(a, &n)))
				goto fail;
			break;
		}
	}
	if (!have_key)
		goto bad;
	last = d->n_peers ? &d->peers[d->n_peers - 1] : NULL;
	if (last && elk_key_eq(last->public_key, n.public_key)) {
		/* The same peer, continued from the message before. */
		if ((r = append_aips(last, n.allowed_ips, n.n_allowed_ips)))
			goto fail;
		if (n.flags & ELK_PEER_PRESHARED_KEY)
			memcpy(last->preshared_key, n.preshared_key, WG_KEY_LEN);
		if (n.flags & ELK_PEER_ENDPOINT)
			memcpy(last->endpoint, n.endpoint, sizeof(n.endpoint));
		if (n.flags & ELK_PEER_KEEPALIVE)
			last->persistent_keepalive_interval = n.persistent_keepalive_interval;
		if (have_stats) {
			last->last_handshake = n.last_handshake;
			last->rx_bytes = n.rx_bytes;
			last->tx_bytes = n.tx_bytes;
		}
		last->flags |= n.flags;
		elk_peer_clear(&n);
		return 0;
	} else {
		struct elk_peer *g = realloc(d->peers, (d->n_peers + 1) * sizeof(*g));

		if (!g) {
			r = -ENOMEM;
			goto fail;
		}
		d->peers = g;
		d->peers[d->n_peers++] = n;
		return 0;
	}
bad:
	r = -EINVAL;
fail:
	elk_peer_clear(&n);
	return r;
}

int elk_wg_parse_device(const struct nlmsghdr *nlh, struct elk_device *d)
{
	const struct nlattr *a;
	int r;

	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(struct genlmsghdr))
		return -EINVAL;
	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		switch (mnl_attr_get_type(a)) {
		case WGDEVICE_A_IFNAME: {
			const char *s = mnl_attr_get_payload(a);
			size_t len = mnl_attr_get_payload_len(a);

			if (!len || s[len - 1] || strlen(s) >= sizeof(d->name))
				return -EINVAL;
			strcpy(d->name, s);
			d->flags |= ELK_DEV_NAME;
			break;
		}
		case WGDEVICE_A_PRIVATE_KEY:
			if (!key_attr(a))
				return -EINVAL;
			memcpy(d->private_key, mnl_attr_get_payload(a), WG_KEY_LEN);
			d->flags |= ELK_DEV_PRIVATE_KEY;
			break;
		case WGDEVICE_A_PUBLIC_KEY:
			if (!key_attr(a))
				return -EINVAL;
			memcpy(d->public_key, mnl_attr_get_payload(a), WG_KEY_LEN);
			break;
		case WGDEVICE_A_FLAGS:
			if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
				return -EINVAL;
			if (mnl_attr_get_u32(a) & WGDEVICE_F_REPLACE_PEERS)
				d->flags |= ELK_DEV_REPLACE_PEERS;
			break;
		case WGDEVICE_A_LISTEN_PORT:
			if (mnl_attr_validate(a, MNL_TYPE_U16) < 0)
				return -EINVAL;
			d->listen_port = mnl_attr_get_u16(a);
			d->flags |= ELK_DEV_LISTEN_PORT;
			break;
		case WGDEVICE_A_FWMARK:
			if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
				return -EINVAL;
			d->fwmark = mnl_attr_get_u32(a);
			d->flags |= ELK_DEV_FWMARK;
			break;
		case WGDEVICE_A_PEERS: {
			const struct nlattr *p;

			mnl_attr_for_each_nested(p, a) {
				if ((r = parse_peer(p, d)))
					return r;
			}
			break;
		}
		}
	}
	return 0;
}

static int data_device_cb(const struct nlmsghdr *nlh, void *data)
{
	int r = elk_wg_parse_device(nlh, data);

	if (r) {
		errno = -r;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

/* A dump ends with NLMSG_DONE, which carries the dump's error code. */
static int done_cb(const struct nlmsghdr *nlh, void *data)
{
	(void)data;
	if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int)) {
		int err;

		memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(err));
		if (err < 0) {
			errno = -err;
			return MNL_CB_ERROR;
		}
	}
	return MNL_CB_STOP;
}

/* libmnl's own handling of NLMSG_ERROR, which mnl_cb_run2 drops once a
 * control array is given. */
static int error_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);

	(void)data;
	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (err->error < 0) {
		errno = -err->error;
		return MNL_CB_ERROR;
	}
	return MNL_CB_STOP;
}

/* mnl_cb_run*'s answer as 1 (more), 0 (done) or -errno. */
static int cb_result(int r)
{
	if (r == MNL_CB_ERROR)
		return errno ? -errno : -EIO;
	return r == MNL_CB_STOP ? 0 : 1;
}

int elk_wg_parse_dump(const void *buf, size_t len, uint32_t seq, uint32_t portid,
		      struct elk_device *d)
{
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = { 0 };

	ctl[NLMSG_ERROR] = error_cb;
	ctl[NLMSG_DONE] = done_cb;
	errno = 0;
	return cb_result(mnl_cb_run2(buf, len, seq, portid, data_device_cb, d, ctl, NLMSG_MIN_TYPE));
}

int elk_wg_parse_ack(const void *buf, size_t len, uint32_t seq, uint32_t portid)
{
	errno = 0;
	return cb_result(mnl_cb_run(buf, len, seq, portid, NULL, NULL));
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID) {
			if (mnl_attr_validate(a, MNL_TYPE_U16) < 0)
				break;
			*(uint16_t *)data = mnl_attr_get_u16(a);
			return MNL_CB_STOP;
		}
	}
	errno = EPROTO;
	return MNL_CB_ERROR;
}

int elk_wg_parse_family(const void *buf, size_t len, uint32_t seq, uint32_t portid,
			uint16_t *id)
{
	errno = 0;
	return cb_result(mnl_cb_run(buf, len, seq, portid, family_cb, id));
}

/* Socket I/O. */

static int nl_send(struct elk_wg_genl *g, struct nlmsghdr *nlh)
{
	nlh->nlmsg_seq = ++g->seq;
	if (mnl_socket_sendto(g->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	return 0;
}

static ssize_t nl_recv(struct elk_wg_genl *g, void *buf, size_t cap)
{
	ssize_t n = mnl_socket_recvfrom(g->nl, buf, cap);

	return n < 0 ? -errno : n;
}

int elk_wg_genl_open(struct elk_wg_genl *g)
{
	char buf[ELK_WG_MSG_SIZE];
	struct nlmsghdr *nlh;
	int r;

	memset(g, 0, sizeof(*g));
	g->nl = mnl_socket_open(NETLINK_GENERIC);
	if (!g->nl)
		return -errno;
	if (mnl_socket_bind(g->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		goto fail;
	}
	g->portid = mnl_socket_get_portid(g->nl);
	g->seq = (uint32_t)time(NULL);
	elk_wg_build_getfamily(buf, sizeof(buf), &nlh);
	if ((r = nl_send(g, nlh)))
		goto fail;
	for (;;) {
		ssize_t n = nl_recv(g, buf, sizeof(buf));

		if (n < 0) {
			r = (int)n;
			goto fail;
		}
		r = elk_wg_parse_family(buf, (size_t)n, g->seq, g->portid, &g->family);
		if (r < 0)
			goto fail;
		if (r == 0)
			return 0;
	}
fail:
	mnl_socket_close(g->nl);
	g->nl = NULL;
	return r;
}

void elk_wg_genl_close(struct elk_wg_genl *g)
{
	if (g->nl)
		mnl_socket_close(g->nl);
	g->nl = NULL;
}

static int wait_ack(struct elk_wg_genl *g)
{
	char buf[ELK_WG_MSG_SIZE];

	for (;;) {
		ssize_t n = nl_recv(g, buf, sizeof(buf));
		int r;

		if (n < 0)
			return (int)n;
		r = elk_wg_parse_ack(buf, (size_t)n, g->seq, g->portid);
		if (r <= 0)
			return r;
	}
}

int elk_wg_genl_set(struct elk_wg_genl *g, const char *ifname, const struct elk_device *change,
		    unsigned *nmsgs)
{
	char buf[ELK_WG_MSG_SIZE];
	struct elk_wg_set_iter it;
	struct nlmsghdr *nlh;
	unsigned count = 0;
	int r;

	elk_wg_set_iter_init(&it, change);
	while ((r = elk_wg_build_set(buf, sizeof(buf), g->family, ifname, &it, &nlh)) == 1) {
		count++;
		r = nl_send(g, nlh);
		if (!r)
			r = wait_ack(g);
		if (r)
			break;
	}
	/* The message held a private or preshared key. */
	explicit_bzero(buf, sizeof(buf));
	if (nmsgs)
		*nmsgs = count;
	return r;
}

int elk_wg_genl_get(struct elk_wg_genl *g, const char *ifname, struct elk_device *out)
{
	char *buf = malloc(ELK_WG_RECV_SIZE);
	struct nlmsghdr *nlh;
	int r;

	if (!buf)
		return -ENOMEM;
	if ((r = elk_wg_build_get(buf, ELK_WG_RECV_SIZE, g->family, ifname, &nlh)) ||
	    (r = nl_send(g, nlh)))
		goto out;
	for (;;) {
		ssize_t n = nl_recv(g, buf, ELK_WG_RECV_SIZE);

		if (n < 0) {
			r = (int)n;
			break;
		}
		r = elk_wg_parse_dump(buf, (size_t)n, g->seq, g->portid, out);
		if (r <= 0)
			break;
	}
out:
	explicit_bzero(buf, ELK_WG_RECV_SIZE);
	free(buf);
	return r;
}
