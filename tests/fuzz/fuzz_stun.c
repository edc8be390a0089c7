/* fuzz_stun.c - libFuzzer harness for lib/stun.c, the reader of STUN
 * Binding responses that el-punch takes from the network (RFC 8489).
 *
 * Each input is read as a response to the transaction ID it carries
 * itself (bytes 8..19), so random inputs get past the ID check and into
 * the attributes, and once more to a fixed other ID. Beyond "no crash, no
 * sanitizer report" it asserts the reader's promises:
 *   - a response to another transaction is always -EAGAIN;
 *   - anything but -EAGAIN comes only from a well-formed STUN header;
 *   - a success names an IPv4 or IPv6 address that formats and parses back;
 *   - an error or a malformed answer always says why.
 * Seeds in tests/fuzz/corpus/stun (the RFC 5769 samples and variants);
 * tests/unit/test_fuzz_replay.c replays them through this file, with
 * FUZZ_FAIL counting a failure instead of trapping.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "stun.h"

/* CHECK(c): a promise; see fuzz.h. */
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void stun_check(const uint8_t *data, size_t size)
{
	static const uint8_t other[ELK_STUN_TXID] = { 0xee };
	uint8_t txid[ELK_STUN_TXID] = { 0 };
	struct elk_stun_addr a;
	struct elk_err e;
	int r;

	if (size >= ELK_STUN_HEADER)
		memcpy(txid, data + 8, ELK_STUN_TXID);
	e.msg[0] = 0;
	r = elk_stun_response(data, size, txid, &a, &e);
	CHECK(r == 0 || r == -EAGAIN || r == -EPROTO || r == -EBADMSG);
	CHECK(r == -EAGAIN || elk_stun_is_message(data, size));
	CHECK(!(r == -EPROTO || r == -EBADMSG) || e.msg[0]);
	if (r == 0) {
		char s[80], host[64];
		uint8_t back[16];
		size_t hl;

		CHECK(a.family == AF_INET || a.family == AF_INET6);
		elk_stun_addr_format(&a, s, sizeof(s));
		/* "IP:PORT" or "[IP]:PORT": the address parses back the same */
		if (a.family == AF_INET6) {
			hl = strcspn(s + 1, "]");
			memcpy(host, s + 1, hl);
		} else {
			hl = strcspn(s, ":");
			memcpy(host, s, hl);
		}
		host[hl] = 0;
		CHECK(inet_pton(a.family, host, back) == 1 &&
		      !memcmp(back, a.addr, a.family == AF_INET ? 4 : 16));
	}
	if (size >= ELK_STUN_HEADER && memcmp(txid, other, sizeof(other)))
		CHECK(elk_stun_response(data, size, other, &a, &e) == -EAGAIN);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	stun_check(data, size);
	return 0;
}
