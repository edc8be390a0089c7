/* wg_timers.c - WireGuard's timers (whitepaper §6) as a pure transition
 * function, following the rules of the Linux kernel's timers.c and the
 * key-freshness checks in its send.c and receive.c.
 *
 * The timers, each armed, re-armed or cancelled by the events below:
 *
 * - Retransmit handshake: REKEY_TIMEOUT plus jitter after an initiation is
 *   sent, send another unless a response completed the handshake.  The
 *   budget is REKEY_ATTEMPT_TIME / REKEY_TIMEOUT retries counted after the
 *   first one (as the kernel counts them: 20 initiations in all with the
 *   defaults, the last near 95 s); past it, give up, drop the staged
 *   packets and make sure the keys are zeroed later.
 *
 * - Send keepalive (passive keepalive): KEEPALIVE_TIMEOUT after data was
 *   received, if nothing at all was sent since, send an empty packet so the
 *   other side knows the session is alive.  Data received while it is
 *   pending asks for one more round.
 *
 * - New handshake: KEEPALIVE_TIMEOUT + REKEY_TIMEOUT plus jitter after data
 *   was sent, if no authenticated packet at all came back, assume the
 *   session is dead and start a new handshake.
 *
 * - Zero keys: REJECT_AFTER_TIME * 3 after the last keys were derived (or
 *   after giving up on a handshake), wipe the handshake state and every
 *   keypair, so old traffic stays unrecoverable.
 *
 * - Persistent keepalive: if configured, the interval after the last
 *   authenticated packet sent or received, send an empty packet to keep
 *   NAT and firewall state alive.
 *
 * - Keypair expiry: REJECT_AFTER_TIME after the current keypair was
 *   derived, it may no longer be used to send or receive.
 *
 * And, checked on traffic rather than by a timer:
 *
 * - Rekey on send: after sending, start a handshake if the current keypair
 *   has sent more than REKEY_AFTER_MESSAGES, or if we were its initiator
 *   and it is REKEY_AFTER_TIME old.  Only the initiator rekeys on age, so
 *   the two sides do not both start handshakes at once.
 *
 * - Last-minute rekey on receive: once per handshake, if we were the
 *   initiator and data arrives on a keypair REJECT_AFTER_TIME -
 *   KEEPALIVE_TIMEOUT - REKEY_TIMEOUT old, start a handshake: the peer is
 *   still sending but we have been silent, and the keypair is about to die.
 *
 * Starting a handshake is itself rate limited to one per REKEY_TIMEOUT.
 */
#include "wg_timers.h"

#include <errno.h>
#include <string.h>

struct ctx {
	struct elk_wg_timers *t;
	const struct elk_wg_timers_cfg *cfg;
	uint64_t now;
	const struct elk_wg_timer_event *ev;
	unsigned act;
};

void elk_wg_timers_default_cfg(struct elk_wg_timers_cfg *cfg)
{
	cfg->rekey_after_messages = ELK_WG_TIMERS_DEFAULT_REKEY_AFTER_MESSAGES;
	cfg->rekey_after_time = ELK_WG_TIMERS_DEFAULT_REKEY_AFTER_TIME;
	cfg->reject_after_time = ELK_WG_TIMERS_DEFAULT_REJECT_AFTER_TIME;
	cfg->rekey_attempt_time = ELK_WG_TIMERS_DEFAULT_REKEY_ATTEMPT_TIME;
	cfg->rekey_timeout = ELK_WG_TIMERS_DEFAULT_REKEY_TIMEOUT;
	cfg->keepalive_timeout = ELK_WG_TIMERS_DEFAULT_KEEPALIVE_TIMEOUT;
	cfg->jitter_max = ELK_WG_TIMERS_DEFAULT_JITTER_MAX;
}

void elk_wg_timers_init(struct elk_wg_timers *t)
{
	memset(t, 0, sizeof(*t));
}

static void arm(struct ctx *c, enum elk_wg_timer w, uint64_t delay)
{
	c->t->at[w] = c->now + delay;
	c->t->armed |= 1u << w;
}

static void disarm(struct ctx *c, enum elk_wg_timer w)
{
	c->t->armed &= ~(1u << w);
}

static bool armed(const struct ctx *c, enum elk_wg_timer w)
{
	return elk_wg_timers_armed(c->t, w);
}

/* floor(random * jitter_max / 2^32): scales the caller's 32-bit random
 * number onto [0, jitter_max) evenly; split in halves so that no product
 * overflows 64 bits. */
static uint64_t jitter(const struct ctx *c)
{
	uint64_t r = c->ev->random, j = c->cfg->jitter_max;

	return r * (j >> 32) + ((r * (j & 0xffffffffu)) >> 32);
}

/* True once at least age has passed since birth. */
static bool aged(const struct ctx *c, uint64_t birth, uint64_t age)
{
	return c->now >= birth && c->now - birth >= age;
}

static void start_handshake(struct ctx *c, bool is_retry)
{
	if (!is_retry)
		c->t->handshake_attempts = 0;
	if (c->t->sent_handshake &&
	    !aged(c, c->t->last_handshake_sent, c->cfg->rekey_timeout))
		return;
	c->act |= ELK_WG_ACT_SEND_INITIATION;
}

static void any_sent(struct ctx *c)
{
	disarm(c, ELK_WG_TIMER_SEND_KEEPALIVE);
}

static void any_received(struct ctx *c)
{
	disarm(c, ELK_WG_TIMER_NEW_HANDSHAKE);
}

static void traversal(struct ctx *c)
{
	if (c->t->persistent_interval)
		arm(c, ELK_WG_TIMER_PERSISTENT_KEEPALIVE,
		    c->t->persistent_interval);
}

static void handshake_complete(struct ctx *c)
{
	disarm(c, ELK_WG_TIMER_RETRANSMIT_HANDSHAKE);
	c->t->handshake_attempts = 0;
	c->t->sent_lastminute_handshake = false;
	c->t->handshake_done = true;
	c->t->last_handshake = c->now;
}

static void session_derived(struct ctx *c, bool initiator)
{
	arm(c, ELK_WG_TIMER_ZERO_KEYS, 3 * c->cfg->reject_after_time);
	arm(c, ELK_WG_TIMER_KEYPAIR_EXPIRY, c->cfg->reject_after_time);
	c->t->have_keypair = true;
	c->t->initiator = initiator;
	c->t->keypair_birth = c->now;
}

static void handshake_sent(struct ctx *c)
{
	c->t->sent_handshake = true;
	c->t->last_handshake_sent = c->now;
}

static void fresh_on_send(struct ctx *c)
{
	if (c->t->have_keypair &&
	    (c->ev->send_counter > c->cfg->rekey_after_messages ||
	     (c->t->initiator && aged(c, c->t->keypair_birth,
				      c->cfg->rekey_after_time))))
		start_handshake(c, false);
}

static void fresh_on_receive(struct ctx *c)
{
	const struct elk_wg_timers_cfg *cfg = c->cfg;
	uint64_t margin = cfg->keepalive_timeout + cfg->rekey_timeout;
	uint64_t limit = cfg->reject_after_time > margin ?
			 cfg->reject_after_time - margin : 0;

	if (c->t->sent_lastminute_handshake || !c->t->have_keypair ||
	    !c->t->initiator || !aged(c, c->t->keypair_birth, limit))
		return;
	c->t->sent_lastminute_handshake = true;
	start_handshake(c, false);
}

static void expired(struct ctx *c, enum elk_wg_timer w)
{
	struct elk_wg_timers *t = c->t;

	switch (w) {
	case ELK_WG_TIMER_RETRANSMIT_HANDSHAKE:
		if (t->handshake_attempts >
		    c->cfg->rekey_attempt_time / c->cfg->rekey_timeout) {
			disarm(c, ELK_WG_TIMER_SEND_KEEPALIVE);
			c->act |= ELK_WG_ACT_PURGE_STAGED;
			/* Wipe whatever a half-done exchange left behind. */
			if (!armed(c, ELK_WG_TIMER_ZERO_KEYS))
				arm(c, ELK_WG_TIMER_ZERO_KEYS,
				    3 * c->cfg->reject_after_time);
		} else {
			t->handshake_attempts++;
			/* A stale source address may be why nothing
			 * came back. */
			c->act |= ELK_WG_ACT_CLEAR_ENDPOINT_SRC;
			start_handshake(c, true);
		}
		break;
	case ELK_WG_TIMER_SEND_KEEPALIVE:
		c->act |= ELK_WG_ACT_SEND_KEEPALIVE;
		if (t->need_another_keepalive) {
			t->need_another_keepalive = false;
			arm(c, ELK_WG_TIMER_SEND_KEEPALIVE,
			    c->cfg->keepalive_timeout);
		}
		break;
	case ELK_WG_TIMER_NEW_HANDSHAKE:
		c->act |= ELK_WG_ACT_CLEAR_ENDPOINT_SRC;
		start_handshake(c, false);
		break;
	case ELK_WG_TIMER_ZERO_KEYS:
		c->act |= ELK_WG_ACT_ZERO_KEYS;
		t->have_keypair = false;
		disarm(c, ELK_WG_TIMER_KEYPAIR_EXPIRY);
		break;
	case ELK_WG_TIMER_PERSISTENT_KEEPALIVE:
		if (t->persistent_interval)
			c->act |= ELK_WG_ACT_SEND_KEEPALIVE;
		break;
	case ELK_WG_TIMER_KEYPAIR_EXPIRY:
		c->act |= ELK_WG_ACT_EXPIRE_KEYPAIR;
		t->have_keypair = false;
		break;
	case ELK_WG_TIMER_COUNT:
		break;
	}
}

static void tick(struct ctx *c)
{
	/* One pass: a timer re-armed by its own expiry waits for the next
	 * tick even if a zero duration makes it due already. */
	unsigned due = 0;

	for (int w = 0; w < ELK_WG_TIMER_COUNT; w++)
		if (armed(c, (enum elk_wg_timer)w) && c->t->at[w] <= c->now)
			due |= 1u << w;
	for (int w = 0; w < ELK_WG_TIMER_COUNT; w++) {
		if (!(due & (1u << w)) || !armed(c, (enum elk_wg_timer)w))
			continue;
		disarm(c, (enum elk_wg_timer)w);
		expired(c, (enum elk_wg_timer)w);
	}
}

int elk_wg_timers_event(struct elk_wg_timers *t,
			const struct elk_wg_timers_cfg *cfg, uint64_t now,
			const struct elk_wg_timer_event *ev, unsigned *actions)
{
	struct elk_wg_timers_cfg def;
	struct ctx c = { .t = t, .now = now, .ev = ev };

	*actions = 0;
	if (!cfg) {
		elk_wg_timers_default_cfg(&def);
		cfg = &def;
	}
	if (!cfg->rekey_timeout || ev->type >= ELK_WG_TEV_COUNT)
		return -EINVAL;
	c.cfg = cfg;

	/* Each case applies the kernel's hooks for that packet, in the
	 * kernel's order. */
	switch (ev->type) {
	case ELK_WG_TEV_TICK:
		tick(&c);
		break;
	case ELK_WG_TEV_WANT_HANDSHAKE:
		start_handshake(&c, false);
		break;
	case ELK_WG_TEV_HANDSHAKE_INITIATED:
		traversal(&c);
		any_sent(&c);
		handshake_sent(&c);
		arm(&c, ELK_WG_TIMER_RETRANSMIT_HANDSHAKE,
		    cfg->rekey_timeout + jitter(&c));
		break;
	case ELK_WG_TEV_HANDSHAKE_INITIATION_RECEIVED:
	case ELK_WG_TEV_ANY_AUTH_RECEIVED:
		any_received(&c);
		traversal(&c);
		break;
	case ELK_WG_TEV_HANDSHAKE_RESPONSE_SENT:
		handshake_sent(&c);
		session_derived(&c, false);
		traversal(&c);
		any_sent(&c);
		break;
	case ELK_WG_TEV_HANDSHAKE_RESPONSE_RECEIVED:
		session_derived(&c, true);
		handshake_complete(&c);
		/* Confirm the keys to the responder at once. */
		c.act |= ELK_WG_ACT_SEND_KEEPALIVE;
		any_received(&c);
		traversal(&c);
		break;
	case ELK_WG_TEV_HANDSHAKE_COMPLETE:
		handshake_complete(&c);
		break;
	case ELK_WG_TEV_DATA_SENT:
	case ELK_WG_TEV_KEEPALIVE_SENT:
		traversal(&c);
		any_sent(&c);
		if (ev->type == ELK_WG_TEV_DATA_SENT &&
		    !armed(&c, ELK_WG_TIMER_NEW_HANDSHAKE))
			arm(&c, ELK_WG_TIMER_NEW_HANDSHAKE,
			    cfg->keepalive_timeout + cfg->rekey_timeout +
				    jitter(&c));
		fresh_on_send(&c);
		break;
	case ELK_WG_TEV_DATA_RECEIVED:
	case ELK_WG_TEV_KEEPALIVE_RECEIVED:
		fresh_on_receive(&c);
		any_received(&c);
		traversal(&c);
		if (ev->type != ELK_WG_TEV_DATA_RECEIVED)
			break;
		if (!armed(&c, ELK_WG_TIMER_SEND_KEEPALIVE))
			arm(&c, ELK_WG_TIMER_SEND_KEEPALIVE,
			    cfg->keepalive_timeout);
		else
			t->need_another_keepalive = true;
		break;
	case ELK_WG_TEV_ANY_AUTH_SENT:
		traversal(&c);
		any_sent(&c);
		break;
	case ELK_WG_TEV_PERSISTENT_KEEPALIVE_SET:
		t->persistent_interval =
			(uint64_t)ev->persistent_keepalive * ELK_WG_TIMERS_SEC;
		if (t->persistent_interval) {
			/* Kernel behaviour: a newly set interval sends one
			 * right away, whose traversal arms the timer. */
			c.act |= ELK_WG_ACT_SEND_KEEPALIVE;
			arm(&c, ELK_WG_TIMER_PERSISTENT_KEEPALIVE,
			    t->persistent_interval);
		} else {
			disarm(&c, ELK_WG_TIMER_PERSISTENT_KEEPALIVE);
		}
		break;
	case ELK_WG_TEV_COUNT:
		break;
	}
	*actions = c.act;
	return 0;
}

int elk_wg_timers_next_deadline(const struct elk_wg_timers *t,
				uint64_t *when)
{
	bool found = false;

	for (int w = 0; w < ELK_WG_TIMER_COUNT; w++) {
		if (!elk_wg_timers_armed(t, (enum elk_wg_timer)w))
			continue;
		if (!found || t->at[w] < *when)
			*when = t->at[w];
		found = true;
	}
	return found ? 0 : -ENOENT;
}
