/* wg-flood - a bounded flood of WireGuard handshake initiations from many
 * source addresses, for the cookie and rate-limit test (tests/
 * el-link-userspace.bats). Each initiation is well formed and carries a
 * valid mac1 for the target's public key, from a random static key the
 * target does not know: the costly kind of junk a responder must answer
 * with cookies when under load. Sends COUNT messages round-robin from the
 * given source addresses, then listens one second and prints, as a record,
 * how many cookie replies came back.
 *
 *   wg-flood IP PORT PUBKEY COUNT SRC...
 *
 * It only ever sends to the one address given, and stops by itself.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "key.h"
#include "wg_cookie.h"
#include "wg_noise.h"
#include "wg_proto.h"

#define MAX_SRC 256

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	struct sockaddr_in dst = { .sin_family = AF_INET };
	uint8_t target[ELK_KEY_LEN], msg[ELK_WG_INITIATION_SIZE], buf[2048];
	int fds[MAX_SRC], nsrc = 0;
	long count, cookies = 0, other = 0, sent = 0;
	struct elk_wg_cookie_maker maker;
	struct pollfd pfd[MAX_SRC];
	uint64_t end, start = now_ns();
	double secs;

	if (argc < 6 || sodium_init() < 0) {
		fprintf(stderr, "usage: wg-flood IP PORT PUBKEY COUNT SRC...\n");
		return 100;
	}
	if (inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1 || elk_key_from_base64(target, argv[3]))
		return 100;
	dst.sin_port = htons((uint16_t)atoi(argv[2]));
	count = atol(argv[4]);
	if (count <= 0 || count > 1000000)
		return 100;
	for (int i = 5; i < argc && nsrc < MAX_SRC; i++) {
		struct sockaddr_in src = { .sin_family = AF_INET };
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

		if (fd < 0 || inet_pton(AF_INET, argv[i], &src.sin_addr) != 1 ||
		    bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
			perror(argv[i]);
			return 111;
		}
		fds[nsrc++] = fd;
	}
	elk_wg_cookie_maker_init(&maker, target);
	for (long n = 0; n < count; n++) {
		struct elk_wg_noise_identity id;
		struct elk_wg_noise_handshake hs;
		uint8_t priv[ELK_KEY_LEN], ts[ELK_WG_TIMESTAMP_LEN];

		/* A few distinct identities are enough: the target knows none. */
		if (n % 64 == 0 || n == 0) {
			elk_key_generate_private(priv);
			elk_wg_noise_identity_init(&id, priv);
		}
		elk_wg_noise_handshake_init(&hs, &id, target, NULL);
		elk_wg_tai64n(ts, (uint64_t)time(NULL), (uint32_t)n);
		if (elk_wg_noise_create_initiation(&hs, &id, (uint32_t)n, ts, msg) ||
		    elk_wg_cookie_add_macs(&maker, msg, sizeof(msg), now_ns()))
			return 111;
		if (sendto(fds[n % nsrc], msg, sizeof(msg), 0, (struct sockaddr *)&dst, sizeof(dst)) > 0)
			sent++;
		else if (errno == EAGAIN)
			poll(NULL, 0, 1); /* socket buffer full: let it drain */
	}
	secs = (double)(now_ns() - start) / 1e9;
	for (int i = 0; i < nsrc; i++)
		pfd[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	for (end = now_ns() + 1000000000ull; now_ns() < end;) {
		if (poll(pfd, (nfds_t)nsrc, 100) <= 0)
			continue;
		for (int i = 0; i < nsrc; i++) {
			ssize_t r;

			while ((r = recv(fds[i], buf, sizeof(buf), 0)) > 0) {
				if (r == ELK_WG_COOKIE_REPLY_SIZE && buf[0] == ELK_WG_MSG_COOKIE_REPLY)
					cookies++;
				else
					other++;
			}
		}
	}
	printf("{\"type\":\"flood\",\"sources\":%d,\"sent\":%ld,\"seconds\":%.3f,"
	       "\"cookie_replies\":%ld,\"other_replies\":%ld}\n", nsrc, sent, secs, cookies, other);
	return 0;
}
