/* test_wg_timers.c - the timer state machine driven by a fake clock:
 * handshake retries and give-up, passive keepalive, no-reply new handshake,
 * rekey on age (send side at 120 s, receive side at 165 s) and on message
 * count, keypair expiry at 180 s, zeroing at 540 s, persistent keepalive,
 * initiation rate limiting, next-deadline reporting and overridden
 * constants.
 */
#include "t.h"
#include "wg_timers.h"

#include <errno.h>
#include <stdint.h>

/* T_EQ_INT evaluates its argument again to print it; results of calls
 * with side effects must be taken once. */
#define EQ(a, b, what)                              \
	do {                                        \
		long long eq_got_ = (long long)(a); \
		T_EQ_INT(eq_got_, (b), (what));     \
	} while (0)

#define S ELK_WG_TIMERS_SEC
#define MS (S / 1000)
#define T0 (1000 * S)	/* arbitrary clock origin */

#define INIT ELK_WG_ACT_SEND_INITIATION
#define KA ELK_WG_ACT_SEND_KEEPALIVE
#define CLR ELK_WG_ACT_CLEAR_ENDPOINT_SRC
#define PURGE ELK_WG_ACT_PURGE_STAGED
#define ZERO ELK_WG_ACT_ZERO_KEYS
#define EXPIRE ELK_WG_ACT_EXPIRE_KEYPAIR

static const struct elk_wg_timers_cfg *cfg;
static uint32_t rnd;		/* random input for jittered events */

static unsigned evx(struct elk_wg_timers *t, uint64_t now,
		    enum elk_wg_timer_event_type type, uint64_t counter)
{
	struct elk_wg_timer_event e = {
		.type = type, .random = rnd, .send_counter = counter,
	};
	unsigned act = ~0u;

	EQ(elk_wg_timers_event(t, cfg, now, &e, &act), 0, "event");
	return act;
}

static unsigned ev(struct elk_wg_timers *t, uint64_t now,
		   enum elk_wg_timer_event_type type)
{
	return evx(t, now, type, 0);
}

static unsigned tick(struct elk_wg_timers *t, uint64_t now)
{
	return ev(t, now, ELK_WG_TEV_TICK);
}

static uint64_t next(const struct elk_wg_timers *t)
{
	uint64_t when = 0;

	EQ(elk_wg_timers_next_deadline(t, &when), 0, "deadline armed");
	return when;
}

/* An initiator with a fresh session at `at`. */
static void established(struct elk_wg_timers *t, uint64_t at)
{
	elk_wg_timers_init(t);
	EQ(ev(t, at, ELK_WG_TEV_WANT_HANDSHAKE), INIT, "want");
	EQ(ev(t, at, ELK_WG_TEV_HANDSHAKE_INITIATED), 0, "initiated");
	EQ(ev(t, at, ELK_WG_TEV_HANDSHAKE_RESPONSE_RECEIVED), KA,
		 "response received asks for a confirming keepalive");
	EQ(ev(t, at, ELK_WG_TEV_KEEPALIVE_SENT), 0, "keepalive sent");
	T_CHECK(!elk_wg_timers_armed(t, ELK_WG_TIMER_RETRANSMIT_HANDSHAKE),
		"retransmit still armed after completion");
}

/* Retries every rekey_timeout + jitter until the attempt budget is spent;
 * returns the number of initiations and the give-up time. */
static int run_retries(struct elk_wg_timers *t, uint64_t start,
		       uint64_t *gave_up, uint64_t min_gap, uint64_t max_gap)
{
	uint64_t now = start, prev = start;
	unsigned act;
	int sent = 0, bad_gap = 0;

	elk_wg_timers_init(t);
	EQ(ev(t, now, ELK_WG_TEV_WANT_HANDSHAKE), INIT, "first want");
	for (;;) {
		ev(t, now, ELK_WG_TEV_HANDSHAKE_INITIATED);
		sent++;
		prev = now;
		now = next(t);
		if (now - prev < min_gap || now - prev >= max_gap)
			bad_gap++;
		EQ(tick(t, now - 1), 0, "tick just before deadline");
		act = tick(t, now);
		if (act != (INIT | CLR))
			break;
		if (sent > 100)
			break;
	}
	EQ(bad_gap, 0, "retry gaps outside rekey_timeout + jitter");
	EQ(act, PURGE, "give-up purges staged packets");
	*gave_up = now;
	return sent;
}

static void test_retries_and_give_up(void)
{
	struct elk_wg_timers t;
	uint64_t gave_up;

	/* No jitter: initiations at 0, 5, ..., 95 s (20 of them, the kernel's
	 * count), give up at 100 s. */
	rnd = 0;
	EQ(run_retries(&t, T0, &gave_up, 5 * S, 5 * S + 1), 20,
		 "initiations before giving up");
	EQ(gave_up - T0, 100 * S, "give-up time");
	T_CHECK(!elk_wg_timers_armed(&t, ELK_WG_TIMER_RETRANSMIT_HANDSHAKE),
		"retransmit re-armed after giving up");
	/* Residue of the failed exchange is wiped REJECT_AFTER_TIME * 3
	 * later, and nothing else is pending. */
	EQ(next(&t) - gave_up, 540 * S, "zero-keys after give-up");
	EQ(tick(&t, gave_up + 540 * S), ZERO, "zeroed");
	EQ(elk_wg_timers_next_deadline(&t, &gave_up), -ENOENT,
		 "idle after zeroing");

	/* Maximal jitter: each gap in [5 s, 5 s + 1/3 s). */
	rnd = UINT32_MAX;
	EQ(run_retries(&t, T0, &gave_up, 5 * S, 5 * S + S / 3), 20,
		 "initiations with jitter");
	T_CHECK(gave_up - T0 > 100 * S + 6 * S &&
		gave_up - T0 < 100 * S + 20 * S / 3,
		"jittered give-up at %llu ms",
		(unsigned long long)((gave_up - T0) / MS));
	rnd = 0;

	/* Giving up also cancels a keepalive owed for data that arrived on
	 * an older session in the meantime. */
	elk_wg_timers_init(&t);
	ev(&t, T0, ELK_WG_TEV_WANT_HANDSHAKE);
	for (int i = 0; i < 20; i++) {
		ev(&t, T0 + (uint64_t)i * 5 * S,
		   ELK_WG_TEV_HANDSHAKE_INITIATED);
		if (i < 19)
			tick(&t, T0 + (uint64_t)(i + 1) * 5 * S);
	}
	ev(&t, T0 + 97 * S, ELK_WG_TEV_DATA_RECEIVED);
	EQ(tick(&t, T0 + 100 * S), PURGE, "give up");
	T_CHECK(!elk_wg_timers_armed(&t, ELK_WG_TIMER_SEND_KEEPALIVE),
		"keepalive survived giving up");

	/* A fresh (non-retry) start resets the attempt budget. */
	elk_wg_timers_init(&t);
	ev(&t, T0, ELK_WG_TEV_WANT_HANDSHAKE);
	ev(&t, T0, ELK_WG_TEV_HANDSHAKE_INITIATED);
	for (int i = 1; i <= 3; i++) {
		EQ(tick(&t, T0 + (uint64_t)i * 5 * S), INIT | CLR, "retry");
		ev(&t, T0 + (uint64_t)i * 5 * S,
		   ELK_WG_TEV_HANDSHAKE_INITIATED);
	}
	EQ(t.handshake_attempts, 3, "three retries counted");
	EQ(ev(&t, T0 + 20 * S, ELK_WG_TEV_WANT_HANDSHAKE), INIT, "fresh");
	EQ(t.handshake_attempts, 0, "fresh start resets the budget");

	/* A response in time stops the retries and resets the budget. */
	elk_wg_timers_init(&t);
	ev(&t, T0, ELK_WG_TEV_WANT_HANDSHAKE);
	ev(&t, T0, ELK_WG_TEV_HANDSHAKE_INITIATED);
	EQ(tick(&t, T0 + 5 * S), INIT | CLR, "one retry");
	ev(&t, T0 + 5 * S, ELK_WG_TEV_HANDSHAKE_INITIATED);
	EQ(t.handshake_attempts, 1, "attempt counted");
	EQ(ev(&t, T0 + 6 * S, ELK_WG_TEV_HANDSHAKE_RESPONSE_RECEIVED),
		 KA, "response");
	EQ(t.handshake_attempts, 0, "budget reset");
	EQ(tick(&t, T0 + 11 * S), 0, "no retry after completion");
}

static void test_rate_limited_initiation(void)
{
	struct elk_wg_timers t;

	elk_wg_timers_init(&t);
	EQ(ev(&t, T0, ELK_WG_TEV_WANT_HANDSHAKE), INIT, "want");
	ev(&t, T0, ELK_WG_TEV_HANDSHAKE_INITIATED);
	EQ(ev(&t, T0 + 4999 * MS, ELK_WG_TEV_WANT_HANDSHAKE), 0,
		 "second initiation within REKEY_TIMEOUT suppressed");
	EQ(ev(&t, T0 + 5 * S, ELK_WG_TEV_WANT_HANDSHAKE), INIT,
		 "allowed after REKEY_TIMEOUT");
	/* A response we sent counts as a handshake message too. */
	elk_wg_timers_init(&t);
	ev(&t, T0, ELK_WG_TEV_HANDSHAKE_RESPONSE_SENT);
	EQ(ev(&t, T0 + S, ELK_WG_TEV_WANT_HANDSHAKE), 0,
		 "initiation right after our response suppressed");
}

static void test_passive_keepalive(void)
{
	struct elk_wg_timers t;
	uint64_t t1 = T0 + 30 * S;

	established(&t, T0);
	EQ(ev(&t, t1, ELK_WG_TEV_DATA_RECEIVED), 0, "data in");
	EQ(next(&t), t1 + 10 * S, "keepalive due in 10 s");
	EQ(tick(&t, t1 + 10 * S - 1), 0, "not yet");
	EQ(tick(&t, t1 + 10 * S), KA, "passive keepalive at 10 s");
	ev(&t, t1 + 10 * S, ELK_WG_TEV_KEEPALIVE_SENT);
	EQ(tick(&t, t1 + 20 * S), 0, "only one keepalive");

	/* Sending anything cancels it. */
	t1 += 100 * S;
	ev(&t, t1, ELK_WG_TEV_DATA_RECEIVED);
	ev(&t, t1 + 3 * S, ELK_WG_TEV_DATA_SENT);
	T_CHECK(!elk_wg_timers_armed(&t, ELK_WG_TIMER_SEND_KEEPALIVE),
		"keepalive still armed after sending");
	EQ(tick(&t, t1 + 10 * S) & KA, 0, "no keepalive after send");

	/* More data while pending asks for another round. */
	t1 += 100 * S;
	established(&t, t1);
	ev(&t, t1, ELK_WG_TEV_DATA_RECEIVED);
	ev(&t, t1 + 2 * S, ELK_WG_TEV_DATA_RECEIVED);
	EQ(next(&t), t1 + 10 * S, "first not pushed back");
	EQ(tick(&t, t1 + 10 * S), KA, "first keepalive");
	EQ(next(&t), t1 + 20 * S, "another armed");
	EQ(tick(&t, t1 + 20 * S), KA, "second keepalive");

	/* Keepalives received do not ask for keepalives. */
	t1 += 100 * S;
	ev(&t, t1, ELK_WG_TEV_KEEPALIVE_RECEIVED);
	T_CHECK(!elk_wg_timers_armed(&t, ELK_WG_TIMER_SEND_KEEPALIVE),
		"keepalive answered with keepalive");
}

static void test_no_reply_new_handshake(void)
{
	struct elk_wg_timers t;
	uint64_t t1 = T0 + 20 * S;

	established(&t, T0);
	EQ(ev(&t, t1, ELK_WG_TEV_DATA_SENT), 0, "data out");
	EQ(next(&t), t1 + 15 * S, "new handshake due in 15 s");
	/* More sends do not push it back. */
	ev(&t, t1 + 5 * S, ELK_WG_TEV_DATA_SENT);
	EQ(next(&t), t1 + 15 * S, "not pushed back by more sends");
	EQ(tick(&t, t1 + 15 * S - 1), 0, "not yet");
	EQ(tick(&t, t1 + 15 * S), INIT | CLR, "15 s without reply");

	/* Any authenticated packet back cancels it. */
	t1 += 100 * S;
	ev(&t, t1, ELK_WG_TEV_DATA_SENT);
	ev(&t, t1 + 14 * S, ELK_WG_TEV_KEEPALIVE_RECEIVED);
	T_CHECK(!elk_wg_timers_armed(&t, ELK_WG_TIMER_NEW_HANDSHAKE),
		"new-handshake timer survived a reply");

	/* Jitter lengthens it by up to a third of a second. */
	t1 += 100 * S;
	rnd = UINT32_MAX / 2;
	ev(&t, t1, ELK_WG_TEV_DATA_SENT);
	rnd = 0;
	T_CHECK(t.at[ELK_WG_TIMER_NEW_HANDSHAKE] > t1 + 15 * S + 160 * MS &&
		t.at[ELK_WG_TIMER_NEW_HANDSHAKE] < t1 + 15 * S + 170 * MS,
		"half jitter not about 1/6 s");
}

static void test_rekey(void)
{
	struct elk_wg_timers t;

	/* Initiator: on send once the keypair is 120 s old. */
	established(&t, T0);
	EQ(ev(&t, T0 + 119 * S, ELK_WG_TEV_DATA_SENT), 0, "119 s");
	EQ(ev(&t, T0 + 120 * S, ELK_WG_TEV_KEEPALIVE_SENT), INIT,
		 "rekey after 120 s");
	/* Caller initiates; the session carries on until the response. */
	ev(&t, T0 + 120 * S, ELK_WG_TEV_HANDSHAKE_INITIATED);
	EQ(ev(&t, T0 + 121 * S, ELK_WG_TEV_DATA_SENT), 0,
		 "no second initiation within REKEY_TIMEOUT");
	ev(&t, T0 + 121 * S, ELK_WG_TEV_HANDSHAKE_RESPONSE_RECEIVED);
	EQ(ev(&t, T0 + 200 * S, ELK_WG_TEV_DATA_SENT), 0,
		 "new keypair is young");

	/* Responder: never on age, but on message count. */
	elk_wg_timers_init(&t);
	ev(&t, T0, ELK_WG_TEV_HANDSHAKE_INITIATION_RECEIVED);
	ev(&t, T0, ELK_WG_TEV_HANDSHAKE_RESPONSE_SENT);
	ev(&t, T0 + S, ELK_WG_TEV_HANDSHAKE_COMPLETE);
	EQ(ev(&t, T0 + 150 * S, ELK_WG_TEV_DATA_SENT), 0,
		 "responder does not rekey on age");
	EQ(evx(&t, T0 + 151 * S, ELK_WG_TEV_DATA_SENT,
		     ELK_WG_TIMERS_DEFAULT_REKEY_AFTER_MESSAGES), 0,
		 "exactly REKEY_AFTER_MESSAGES");
	EQ(evx(&t, T0 + 152 * S, ELK_WG_TEV_DATA_SENT,
		     ELK_WG_TIMERS_DEFAULT_REKEY_AFTER_MESSAGES + 1), INIT,
		 "rekey after REKEY_AFTER_MESSAGES");
	EQ(ev(&t, T0 + 165 * S, ELK_WG_TEV_DATA_RECEIVED), 0,
		 "responder has no last-minute rekey");

	/* Initiator that only receives: last-minute handshake at 165 s. */
	established(&t, T0);
	EQ(ev(&t, T0 + 164 * S, ELK_WG_TEV_DATA_RECEIVED), 0, "164 s");
	EQ(ev(&t, T0 + 165 * S, ELK_WG_TEV_DATA_RECEIVED), INIT,
		 "last-minute rekey at 165 s");
	EQ(ev(&t, T0 + 172 * S, ELK_WG_TEV_KEEPALIVE_RECEIVED), 0,
		 "last-minute rekey only once");
	ev(&t, T0 + 173 * S, ELK_WG_TEV_HANDSHAKE_COMPLETE);
	T_CHECK(!t.sent_lastminute_handshake, "completion re-enables it");
}

static void test_expiry_and_zeroing(void)
{
	struct elk_wg_timers t;

	established(&t, T0);
	EQ(tick(&t, T0 + 180 * S - 1), 0, "keypair alive");
	EQ(tick(&t, T0 + 180 * S), EXPIRE, "keypair rejected at 180 s");
	EQ(ev(&t, T0 + 181 * S, ELK_WG_TEV_DATA_SENT) & INIT, 0,
		 "expired keypair does not trigger rekey by itself");
	EQ(next(&t), T0 + 181 * S + 15 * S, "only new-handshake left");
	ev(&t, T0 + 181 * S, ELK_WG_TEV_ANY_AUTH_RECEIVED);
	EQ(next(&t), T0 + 540 * S, "zeroing due at 540 s");
	EQ(tick(&t, T0 + 540 * S - 1), 0, "not yet zeroed");
	EQ(tick(&t, T0 + 540 * S), ZERO, "zeroed at 540 s");

	/* Every new session pushes the zeroing back. */
	established(&t, T0);
	ev(&t, T0 + 100 * S, ELK_WG_TEV_HANDSHAKE_RESPONSE_SENT);
	EQ(tick(&t, T0 + 280 * S), EXPIRE, "second keypair expires");
	EQ(tick(&t, T0 + 540 * S), 0, "zeroing pushed back");
	EQ(tick(&t, T0 + 640 * S), ZERO, "zeroed 540 s after last keys");
}

static void test_persistent_keepalive(void)
{
	struct elk_wg_timers t;
	struct elk_wg_timer_event e = {
		.type = ELK_WG_TEV_PERSISTENT_KEEPALIVE_SET,
		.persistent_keepalive = 25,
	};
	unsigned act;
	uint64_t when;

	elk_wg_timers_init(&t);
	EQ(elk_wg_timers_event(&t, cfg, T0, &e, &act), 0, "set 25");
	EQ(act, KA, "setting sends one at once");
	ev(&t, T0, ELK_WG_TEV_KEEPALIVE_SENT);
	EQ(next(&t), T0 + 25 * S, "next in 25 s");
	EQ(tick(&t, T0 + 25 * S), KA, "persistent keepalive");
	ev(&t, T0 + 25 * S, ELK_WG_TEV_KEEPALIVE_SENT);
	EQ(next(&t), T0 + 50 * S, "every 25 s");
	/* Traffic either way restarts the interval. */
	ev(&t, T0 + 30 * S, ELK_WG_TEV_KEEPALIVE_RECEIVED);
	EQ(next(&t), T0 + 55 * S, "received traffic restarts it");
	ev(&t, T0 + 40 * S, ELK_WG_TEV_ANY_AUTH_SENT);
	EQ(next(&t), T0 + 65 * S, "sent traffic restarts it");

	e.persistent_keepalive = 0;
	EQ(elk_wg_timers_event(&t, cfg, T0 + 41 * S, &e, &act), 0,
		 "set 0");
	EQ(act, 0, "turning off sends nothing");
	EQ(elk_wg_timers_next_deadline(&t, &when), -ENOENT,
		 "nothing armed when off");
	ev(&t, T0 + 42 * S, ELK_WG_TEV_KEEPALIVE_SENT);
	EQ(elk_wg_timers_next_deadline(&t, &when), -ENOENT,
		 "traffic does not re-arm it when off");
}

static void test_overridden(void)
{
	struct elk_wg_timers_cfg c;
	const struct elk_wg_timers_cfg *saved = cfg;
	struct elk_wg_timers t;
	uint64_t gave_up;

	elk_wg_timers_default_cfg(&c);
	c.rekey_after_time = 2 * S;
	c.reject_after_time = 6 * S;
	c.rekey_timeout = 1 * S;
	c.rekey_attempt_time = 3 * S;
	c.keepalive_timeout = 1 * S;
	c.jitter_max = 0;
	cfg = &c;

	established(&t, T0);
	EQ(ev(&t, T0 + 1999 * MS, ELK_WG_TEV_DATA_SENT), 0, "1.999 s");
	EQ(ev(&t, T0 + 2 * S, ELK_WG_TEV_DATA_SENT), INIT,
		 "rekey after overridden 2 s");
	ev(&t, T0 + 3 * S, ELK_WG_TEV_DATA_RECEIVED);
	EQ(tick(&t, T0 + 4 * S), KA, "keepalive after 1 s");
	/* 6 - 1 - 1 = 4 s for the last-minute rule. */
	EQ(ev(&t, T0 + 4 * S, ELK_WG_TEV_DATA_RECEIVED), INIT,
		 "last-minute rekey at overridden 4 s");
	EQ(tick(&t, T0 + 6 * S) & EXPIRE, EXPIRE, "expiry at 6 s");

	/* Budget 3 / 1 = 3 retries after the first: 5 initiations. */
	EQ(run_retries(&t, T0, &gave_up, S, S + 1), 5,
		 "initiations with overridden attempt time");
	EQ(gave_up - T0, 5 * S, "overridden give-up time");
	EQ(next(&t) - gave_up, 18 * S, "zeroing at 3 * 6 s");

	c.rekey_timeout = 0;
	{
		struct elk_wg_timer_event e = { .type = ELK_WG_TEV_TICK };
		unsigned act;

		EQ(elk_wg_timers_event(&t, &c, T0, &e, &act), -EINVAL,
			 "zero rekey_timeout rejected");
		e.type = ELK_WG_TEV_COUNT;
		EQ(elk_wg_timers_event(&t, saved, T0, &e, &act), -EINVAL,
			 "unknown event rejected");
	}
	cfg = saved;
}

static void test_next_deadline(void)
{
	struct elk_wg_timers t;
	uint64_t when = 7;

	elk_wg_timers_init(&t);
	EQ(elk_wg_timers_next_deadline(&t, &when), -ENOENT, "fresh");
	EQ(when, 7, "untouched when none");
	established(&t, T0);
	/* Armed now: zero-keys (540 s), keypair expiry (180 s). */
	EQ(next(&t), T0 + 180 * S, "earliest of two");
	ev(&t, T0 + S, ELK_WG_TEV_DATA_RECEIVED);
	EQ(next(&t), T0 + 11 * S, "earliest of three");
	ev(&t, T0 + 2 * S, ELK_WG_TEV_DATA_SENT);	/* cancels keepalive */
	EQ(next(&t), T0 + 17 * S, "after cancel");
	/* A late tick fires everything overdue at once. */
	EQ(tick(&t, T0 + 600 * S), INIT | CLR | EXPIRE | ZERO,
		 "overdue timers fire together");
}

int main(void)
{
	struct elk_wg_timers_cfg def;

	elk_wg_timers_default_cfg(&def);
	cfg = &def;
	test_retries_and_give_up();
	test_rate_limited_initiation();
	test_passive_keepalive();
	test_no_reply_new_handshake();
	test_rekey();
	test_expiry_and_zeroing();
	test_persistent_keepalive();
	test_overridden();
	test_next_deadline();
	cfg = NULL;	/* NULL means the defaults too */
	test_passive_keepalive();
	return T_DONE();
}
