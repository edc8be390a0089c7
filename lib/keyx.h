/* keyx.h - edgelink's key exchange: what two hosts agree before a link.
 *
 * The source (it connects) and the destination (it listens) swap WireGuard
 * public keys and fresh nonces, and the destination decides the link's
 * configuration (addresses, port, keepalive, MTU, DNS). Three messages, one
 * JSON object a line:
 *
 *   source -> dest   hello   {version, nonce_s, public_key_s}
 *   dest -> source   offer   {nonce_d, public_key_d, config, mac_d}
 *   source -> dest   accept  {mac_s}            (dest answers done / error)
 *
 * With a token (a 256-bit secret both sides hold) each side proves it with
 * a keyed BLAKE2b MAC over the whole transcript (both nonces, both keys, the
 * config in canonical form), under a key derived from the token. Someone
 * without the token can neither pair nor swap a key in transit: any change
 * breaks a MAC, and fresh nonces make a recorded exchange useless. The MACs
 * reveal nothing better than a 2^256 search for the token. Without a token
 * the exchange is trust on first use: each side shows the other's key, and
 * --peer-key pins the key expected.
 */
#ifndef ELK_KEYX_H
#define ELK_KEYX_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "key.h"
#include "model.h"
#include "records.h"

#define ELK_KEYX_VERSION 1
#define ELK_KEYX_PORT 50777
#define ELK_KEYX_NONCE_LEN 32
#define ELK_KEYX_MAC_LEN 32
#define ELK_KEYX_MAX_ADDRS 4
#define ELK_KEYX_LINE_MAX 4096

/* What the destination decides, for one source. */
struct elk_keyx_config {
	struct elk_cidr dest_addrs[ELK_KEYX_MAX_ADDRS]; /* the destination's own */
	size_t n_dest;
	struct elk_cidr source_addrs[ELK_KEYX_MAX_ADDRS]; /* given to the source */
	size_t n_source;
	uint16_t wg_port;                /* WireGuard listen port, both sides */
	char endpoint[ELK_ENDPOINT_MAX]; /* where the source reaches the destination; "" = the host it connected to, wg_port */
	uint16_t keepalive;              /* persistent keepalive, seconds */
	uint32_t mtu;
	struct elk_cidr dns[ELK_KEYX_MAX_ADDRS];
	size_t n_dns;
};

json_t *elk_keyx_config_to_json(const struct elk_keyx_config *c);
int elk_keyx_config_from_json(const json_t *o, struct elk_keyx_config *c, struct elk_err *e);

/* The MAC key from a token: the token must be a 32-byte key in base64, as
 * `el-keygen psk --raw` prints it. */
int elk_keyx_token_key(const char *token, uint8_t key[ELK_KEYX_MAC_LEN], struct elk_err *e);

struct elk_keyx_transcript {
	uint8_t nonce_s[ELK_KEYX_NONCE_LEN], pub_s[ELK_KEY_LEN];
	uint8_t nonce_d[ELK_KEYX_NONCE_LEN], pub_d[ELK_KEY_LEN];
	const struct elk_keyx_config *config;
};

/* role 'D' (the destination's offer) or 'S' (the source's accept). */
int elk_keyx_mac(const uint8_t key[ELK_KEYX_MAC_LEN], char role,
		 const struct elk_keyx_transcript *t, uint8_t out[ELK_KEYX_MAC_LEN]);

/* The next source addresses after n sources have paired (the host part
 * counts up: 10.0.0.2, 10.0.0.3, ...). -ERANGE when the network is full. */
int elk_keyx_nth_source(const struct elk_keyx_config *base, unsigned n,
			struct elk_keyx_config *out);

/* A short fingerprint of a public key for humans: "SHA256-like" hex of the
 * first 8 bytes of BLAKE2b, as "xxxx:xxxx:xxxx:xxxx". */
void elk_keyx_fingerprint(const uint8_t pub[ELK_KEY_LEN], char out[20]);

/* The records each side prints. dest: iface (own key, dest addresses) and
 * one peer per source; source: iface (own key, its addresses) and the
 * destination as peer. */
json_t *elk_keyx_iface(const uint8_t priv[ELK_KEY_LEN], const struct elk_keyx_config *c,
		       bool dest);
json_t *elk_keyx_peer(const uint8_t pub[ELK_KEY_LEN], const struct elk_keyx_config *c, bool dest,
		      const char *endpoint);

#endif
