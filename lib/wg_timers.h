/* wg_timers.h - WireGuard's per-peer timer state machine, as a pure function.
 *
 * The timers of whitepaper §6 (with the rules of the Linux kernel's
 * drivers/net/wireguard/timers.c, send.c and receive.c) decide when to
 * retransmit or start handshakes, send keepalives and forget keys.  Here
 * they are a transition function: the caller reports an event with the
 * current time (and, where a timer is jittered, a random number) and gets
 * back the actions to take; no clock is read and nothing is sent.  Ticks
 * are events too; elk_wg_timers_next_deadline() says when the next is due.
 * All durations are nanoseconds, from a configuration that tests can
 * shrink; times are any monotonic clock in nanoseconds.
 */
#ifndef ELK_WG_TIMERS_H
#define ELK_WG_TIMERS_H

#include <stdbool.h>
#include <stdint.h>

#define ELK_WG_TIMERS_SEC 1000000000ull
/* Whitepaper §6.1 */
#define ELK_WG_TIMERS_DEFAULT_REKEY_AFTER_MESSAGES (1ull << 60)
#define ELK_WG_TIMERS_DEFAULT_REKEY_AFTER_TIME (120 * ELK_WG_TIMERS_SEC)
#define ELK_WG_TIMERS_DEFAULT_REJECT_AFTER_TIME (180 * ELK_WG_TIMERS_SEC)
#define ELK_WG_TIMERS_DEFAULT_REKEY_ATTEMPT_TIME (90 * ELK_WG_TIMERS_SEC)
#define ELK_WG_TIMERS_DEFAULT_REKEY_TIMEOUT (5 * ELK_WG_TIMERS_SEC)
#define ELK_WG_TIMERS_DEFAULT_KEEPALIVE_TIMEOUT (10 * ELK_WG_TIMERS_SEC)
/* Whitepaper §6.1 says "jitter", the kernel uses up to a third of a second. */
#define ELK_WG_TIMERS_DEFAULT_JITTER_MAX (ELK_WG_TIMERS_SEC / 3)

struct elk_wg_timers_cfg {
	uint64_t rekey_after_messages;
	uint64_t rekey_after_time;
	uint64_t reject_after_time;
	uint64_t rekey_attempt_time;
	uint64_t rekey_timeout;		/* > 0 */
	uint64_t keepalive_timeout;
	uint64_t jitter_max;		/* jitter is in [0, jitter_max) */
};

enum elk_wg_timer {
	ELK_WG_TIMER_RETRANSMIT_HANDSHAKE,
	ELK_WG_TIMER_SEND_KEEPALIVE,
	ELK_WG_TIMER_NEW_HANDSHAKE,
	ELK_WG_TIMER_PERSISTENT_KEEPALIVE,
	/* Overdue timers fire in this order: expiry before zeroing, so a
	 * late tick still reports both. */
	ELK_WG_TIMER_KEYPAIR_EXPIRY,
	ELK_WG_TIMER_ZERO_KEYS,
	ELK_WG_TIMER_COUNT
};

enum elk_wg_timer_event_type {
	ELK_WG_TEV_TICK,
	/* Packets staged but no usable keypair: a handshake is wanted. */
	ELK_WG_TEV_WANT_HANDSHAKE,
	ELK_WG_TEV_HANDSHAKE_INITIATED,		/* initiation sent */
	ELK_WG_TEV_HANDSHAKE_INITIATION_RECEIVED, /* valid, consumed */
	ELK_WG_TEV_HANDSHAKE_RESPONSE_SENT,	/* responder: keys derived */
	ELK_WG_TEV_HANDSHAKE_RESPONSE_RECEIVED, /* initiator: keys made */
	/* Responder's key confirmation: first data on the new keypair.
	 * Report DATA/KEEPALIVE_RECEIVED for the same packet as well. */
	ELK_WG_TEV_HANDSHAKE_COMPLETE,
	ELK_WG_TEV_DATA_SENT,			/* non-empty data packet */
	ELK_WG_TEV_KEEPALIVE_SENT,		/* empty transport data */
	ELK_WG_TEV_DATA_RECEIVED,
	ELK_WG_TEV_KEEPALIVE_RECEIVED,
	/* Any other authenticated packet (the events above already
	 * include these effects). */
	ELK_WG_TEV_ANY_AUTH_SENT,
	ELK_WG_TEV_ANY_AUTH_RECEIVED,
	ELK_WG_TEV_PERSISTENT_KEEPALIVE_SET,
	ELK_WG_TEV_COUNT
};

struct elk_wg_timer_event {
	enum elk_wg_timer_event_type type;
	/* Uniform random number, used only when this event arms a
	 * jittered timer (HANDSHAKE_INITIATED, DATA_SENT). */
	uint32_t random;
	/* DATA_SENT, KEEPALIVE_SENT: packets sent so far on the current
	 * keypair (its next nonce). */
	uint64_t send_counter;
	/* PERSISTENT_KEEPALIVE_SET: seconds, 0 turns it off. */
	uint16_t persistent_keepalive;
};

enum elk_wg_timer_action {
	ELK_WG_ACT_SEND_INITIATION = 1 << 0,	/* then report INITIATED */
	ELK_WG_ACT_SEND_KEEPALIVE = 1 << 1,	/* staged data, or empty */
	ELK_WG_ACT_CLEAR_ENDPOINT_SRC = 1 << 2,	/* forget our src addr */
	ELK_WG_ACT_PURGE_STAGED = 1 << 3,	/* handshake gave up */
	ELK_WG_ACT_ZERO_KEYS = 1 << 4,		/* wipe handshake, keys */
	ELK_WG_ACT_EXPIRE_KEYPAIR = 1 << 5,	/* current keypair too old */
};

struct elk_wg_timers {
	uint64_t at[ELK_WG_TIMER_COUNT];
	unsigned armed;			/* 1 << enum elk_wg_timer */
	uint64_t keypair_birth;		/* current keypair's creation */
	uint64_t last_handshake_sent;	/* initiation or response */
	uint64_t last_handshake;	/* completed (0 with !handshake_done) */
	uint64_t persistent_interval;	/* ns, 0 = off */
	uint32_t handshake_attempts;
	bool have_keypair, initiator, sent_handshake, handshake_done;
	bool need_another_keepalive, sent_lastminute_handshake;
};

void elk_wg_timers_default_cfg(struct elk_wg_timers_cfg *cfg);
void elk_wg_timers_init(struct elk_wg_timers *t);

/* Apply ev at now; *actions receives ELK_WG_ACT_* bits.  cfg NULL means
 * the defaults.  -EINVAL for an unknown event or rekey_timeout of 0. */
int elk_wg_timers_event(struct elk_wg_timers *t,
			const struct elk_wg_timers_cfg *cfg, uint64_t now,
			const struct elk_wg_timer_event *ev, unsigned *actions);

/* Earliest armed deadline: 0 and *when, or -ENOENT if nothing is armed.
 * A TICK event at or after *when fires it. */
int elk_wg_timers_next_deadline(const struct elk_wg_timers *t,
				uint64_t *when);

static inline bool elk_wg_timers_armed(const struct elk_wg_timers *t,
				       enum elk_wg_timer which)
{
	return t->armed & (1u << which);
}

#endif
