/* wg_replay.c - sliding-window replay check for WireGuard transport counters.
 *
 * Implements RFC 6479's bitmap scheme with the Linux kernel WireGuard's
 * sizes and limits (drivers/net/wireguard/receive.c, messages.h): a ring of
 * 128 64-bit words; when the highest counter moves forward, only the words
 * it moves across are cleared, never shifted.  The word holding the highest
 * counter is partly in the future, which is why one word's worth of bits is
 * subtracted from the usable window (8128 counters).  Whitepaper §5.4.6
 * requires the window; §6.1 gives REJECT_AFTER_MESSAGES.
 */
#include "wg_replay.h"

#include <errno.h>
#include <string.h>

#define NWORDS (ELK_WG_REPLAY_BITS_TOTAL / ELK_WG_REPLAY_WORD_BITS)

void elk_wg_replay_init(struct elk_wg_replay *r)
{
	memset(r, 0, sizeof(*r));
}

/* Works on counter + 1 so that "top == 0" can mean "nothing seen yet"
 * without reserving counter 0. */
static int classify(const struct elk_wg_replay *r, uint64_t counter,
		    uint64_t *pos)
{
	uint64_t p;

	if (r->top >= ELK_WG_REPLAY_REJECT_AFTER_MESSAGES + 1 ||
	    counter >= ELK_WG_REPLAY_REJECT_AFTER_MESSAGES)
		return -ERANGE;
	p = counter + 1;
	if (p + ELK_WG_REPLAY_WINDOW < r->top)
		return -ESTALE;
	*pos = p;
	if (p > r->top)
		return 0;	/* ahead: its word is (or will be) fresh */
	if (r->bits[(p / ELK_WG_REPLAY_WORD_BITS) % NWORDS] &
	    (1ull << (p % ELK_WG_REPLAY_WORD_BITS)))
		return -EALREADY;
	return 0;
}

int elk_wg_replay_check(const struct elk_wg_replay *r, uint64_t counter)
{
	uint64_t pos;

	return classify(r, counter, &pos);
}

int elk_wg_replay_update(struct elk_wg_replay *r, uint64_t counter)
{
	uint64_t pos, idx, cur, n, i;
	int ret;

	ret = classify(r, counter, &pos);
	if (ret)
		return ret;

	idx = pos / ELK_WG_REPLAY_WORD_BITS;
	if (pos > r->top) {
		/* Clear the words between the old top and the new one; a jump
		 * of a whole ring or more wipes everything. */
		cur = r->top / ELK_WG_REPLAY_WORD_BITS;
		n = idx - cur;
		if (n > NWORDS)
			n = NWORDS;
		for (i = 1; i <= n; i++)
			r->bits[(cur + i) % NWORDS] = 0;
		r->top = pos;
	}
	r->bits[idx % NWORDS] |= 1ull << (pos % ELK_WG_REPLAY_WORD_BITS);
	return 0;
}
