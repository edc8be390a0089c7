/* wg_replay.h - replay protection for WireGuard transport-data counters.
 *
 * A sliding-window bitmap in the shape of RFC 6479, sized and bounded the
 * way the Linux kernel's WireGuard does it (drivers/net/wireguard/receive.c,
 * counter_validate): 8192 bits of which one 64-bit word is redundant, so
 * 8128 counters behind the highest one seen are still accepted once each,
 * and no counter at or beyond REJECT_AFTER_MESSAGES is ever accepted
 * (whitepaper §5.4.6 and §6.1).
 *
 * Checking and marking are separate on purpose: a counter is only marked
 * after the packet carrying it has been authenticated, otherwise a forged
 * packet could advance the window and make genuine packets look stale.
 */
#ifndef ELK_WG_REPLAY_H
#define ELK_WG_REPLAY_H

#include <stdint.h>

#define ELK_WG_REPLAY_BITS_TOTAL 8192u
#define ELK_WG_REPLAY_WORD_BITS 64u
#define ELK_WG_REPLAY_WINDOW \
	(ELK_WG_REPLAY_BITS_TOTAL - ELK_WG_REPLAY_WORD_BITS)
/* 2^64 - 1 - window - 1: the last counters are never usable, so the
 * window arithmetic below cannot overflow. */
#define ELK_WG_REPLAY_REJECT_AFTER_MESSAGES \
	(UINT64_MAX - ELK_WG_REPLAY_WINDOW - 1)

struct elk_wg_replay {
	/* One more than the highest counter accepted so far (0: none yet). */
	uint64_t top;
	uint64_t bits[ELK_WG_REPLAY_BITS_TOTAL / ELK_WG_REPLAY_WORD_BITS];
};

void elk_wg_replay_init(struct elk_wg_replay *r);

/* Would this counter be accepted?  0 if so; -ERANGE past the message limit,
 * -ESTALE behind the window, -EALREADY already seen.  No state change. */
int elk_wg_replay_check(const struct elk_wg_replay *r, uint64_t counter);

/* Accept and mark the counter (same results as check); call it only after
 * the packet authenticated. */
int elk_wg_replay_update(struct elk_wg_replay *r, uint64_t counter);

#endif
