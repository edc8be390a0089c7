/* el-facts - facts about peers in wirelink's wire format (FACTS-WIRE.md,
 * wirelink's PROTOCOL.md): decode and encode signed groups, for
 * debugging and tests; local and gossip (lib/facts_cli.c, facts_local.c,
 * facts_gossip.c) gather this node's facts and exchange them with peers. */
#include <arpa/inet.h>
#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "facts_cli.h"
#include "facts_wire.h"
#include "key.h"
#include "records.h"

static const char help[] =
"Usage: el-facts decode (--key-file FILE | --no-verify) [--source IPV6] [--raw]\n"
"       el-facts encode --key-file FILE --peer PUBKEY [--raw]\n"
"       el-facts local IFACE [--include GLOB] [--exclude GLOB] [--route CIDR] [--ttl S]\n"
"       el-facts gossip IFACE [local's options] [--cycle S] [--alive S] [--key-file FILE]\n"
"                             [--relay] [--no-stdin]\n"
"\n"
"decode reads signed fact groups in wirelink's wire format, one datagram per\n"
"line as hex ('#' comments and blank lines skipped), and prints each inner\n"
"fact as a record:\n"
"  {\"type\":\"fact\",\"subject\":KEY,\"attribute\":\"endpoint\",\"value\":\"192.0.2.1:51820\",\n"
"   \"ttl\":255,\"source\":SIGNER}\n"
"encode reads fact records and prints signed groups as hex lines, starting a\n"
"new group whenever the next fact would not fit in one datagram.\n"
"\n"
"Attributes and their values:\n"
"  alive       \"<32 hex digits>\"            the sender's boot id\n"
"  member      null | {\"name\":\"..\",\"basic\":false}   ('m' | 'M' on the wire)\n"
"  endpoint    \"10.0.0.1:51820\" | \"[2001:db8::1]:51820\"\n"
"  allowed_ip  \"10.1.0.0/16\" | \"2001:db8::/64\"\n"
"  0xHH        \"<hex>\"   an attribute byte el-facts does not know\n"
"ttl is 0..65535 seconds (encode: 255 when absent).\n"
"\n"
"Options:\n"
"  --key-file FILE our private key (env EL_FACTS_KEY_FILE): a base64 line or\n"
"                  el-keygen's record; decode checks signatures with it, encode\n"
"                  signs with it, gossip uses it when the device hides its own\n"
"  --key PRIVATE   the same key given as a value (env EL_FACTS_KEY); on the\n"
"                  command line, other users see it in ps: prefer a file\n"
"  --peer PUBKEY   encode: the recipient's public key (env EL_FACTS_PEER)\n"
"  --no-verify     decode: do not check signatures (recorded traffic whose\n"
"                  keys are unknown)\n"
"  --source IPV6   decode: the datagrams' source address; a group must come\n"
"                  from the link-local address of its signer's key\n"
"  --raw           one binary datagram on stdin (decode) or stdout (encode)\n"
"                  instead of hex lines\n"
"  -h, --help      this help;  --version  the version\n"
"\n"
"local prints this node's facts: endpoints (addresses of up non-WireGuard\n"
"interfaces with the listen port), endpoints of peers with a recent\n"
"handshake, peers' allowed IPs, --route networks, and alive. gossip sends\n"
"them (and fact records read on stdin) to each peer inside the tunnel,\n"
"signed, on [link-local]:port+1, and prints every fact it receives with its\n"
"source. --ttl (255), --cycle (5), --alive (30): seconds (env EL_FACTS_TTL,\n"
"EL_FACTS_CYCLE, EL_FACTS_ALIVE); --relay passes received facts on.\n"
"\n"
"Examples:\n"
"  el-facts gossip wg0 | el-trust --iface wg0 --explain\n"
"  el-facts decode --no-verify < tests/vectors/wirelink-vnet-packets.hex\n"
"  el-facts decode --no-verify < capture.hex | jq -c 'select(.attribute==\"endpoint\")'\n"
"  echo '{\"type\":\"fact\",\"subject\":\"'$B'\",\"attribute\":\"endpoint\",\"value\":\"192.0.2.7:51820\"}' |\n"
"    el-facts encode --key-file a.json --peer \"$B_PUB\" | el-facts decode --key-file b.json\n"
"\n"
"decode goes on after a bad line and exits with the worst result.\n"
"Exit: 0 ok, 1 a group failed its signature or source check, 100 usage or\n"
"malformed input, 111 system failure. See el-facts(1).\n";

static bool raw, no_verify;

/* The worst outcome so far: decode reports every line, then exits with it. */
static int worst = ELK_EXIT_OK;

static void note(int code)
{
	/* 100 (malformed) outranks 1 (a definite no): input that cannot be
	 * read says more about the run than one bad signature. */
	if (code == ELK_EXIT_USAGE || (code == ELK_EXIT_NO && worst == ELK_EXIT_OK))
		worst = code;
}

static void parse_key(uint8_t key[ELK_KEY_LEN], const char *s, const char *opt)
{
	/* Never quote the value: it may be a private key. */
	if (elk_key_from_base64(key, s))
		elk_die(ELK_EXIT_USAGE, "%s: not a key (want 44 characters of base64 for 32 "
			"bytes, got %zu characters)", opt, strlen(s));
}

static void put_record(json_t *rec)
{
	if (!rec)
		elk_die(ELK_EXIT_SYS, "out of memory");
	if (elk_write_record(stdout, rec) < 0)
		elk_die_sys("cannot write to stdout");
	json_decref(rec);
}

/* Decodes one datagram; where names the line ("line 3") or "datagram". */
static void decode_one(const uint8_t *d, size_t n, const char *where, const uint8_t *own_priv,
		       const uint8_t *src)
{
	struct elk_facts_group g;
	struct elk_facts_iter it;
	struct elk_fact f;
	struct elk_err e;
	int r;

	if (elk_facts_group_parse(d, n, &g, &e) < 0) {
		elk_warn("%s: %s", where, e.msg);
		note(ELK_EXIT_USAGE);
		return;
	}
	if (src && elk_facts_group_check_source(&g, src, &e) < 0) {
		elk_warn("%s: %s", where, e.msg);
		note(ELK_EXIT_NO);
		return;
	}
	if (own_priv && elk_facts_group_verify(&g, own_priv, &e) < 0) {
		elk_warn("%s: %s", where, e.msg);
		note(ELK_EXIT_NO);
		return;
	}
	elk_facts_iter_init(&it, &g);
	while ((r = elk_facts_iter_next(&it, &f, &e)) > 0)
		put_record(elk_fact_to_json(&f, g.source));
	if (r < 0) {
		elk_warn("%s: %s", where, e.msg);
		note(ELK_EXIT_USAGE);
	}
}

static void cmd_decode(const uint8_t *own_priv, const uint8_t *src)
{
	/* One more byte than a datagram may have, to tell "too long". */
	uint8_t d[ELK_FACTS_DGRAM_MAX + 1];
	char where[48];

	if (raw) {
		size_t n = fread(d, 1, sizeof(d), stdin);

		if (ferror(stdin))
			elk_die_sys("cannot read stdin");
		if (n == sizeof(d))
			elk_die(ELK_EXIT_USAGE, "datagram: longer than %d bytes",
				ELK_FACTS_DGRAM_MAX);
		decode_one(d, n, "datagram", own_priv, src);
	} else {
		struct elk_reader rd;
		struct elk_err e;
		char *line;
		size_t len;
		int r;

		elk_reader_init(&rd, stdin);
		while ((r = elk_read_line(&rd, &line, &len, &e)) != 0) {
			size_t n = 0, skip;
			const char *end = NULL;

			if (r < 0) {
				if (r == -EIO)
					elk_die(ELK_EXIT_SYS, "%s", e.msg);
				elk_warn("line %lu: %s", rd.lineno, e.msg);
				note(ELK_EXIT_USAGE);
				continue;
			}
			skip = strspn(line, " \t");
			if (line[skip] == '#')
				continue;
			while (len > skip && (line[len - 1] == ' ' || line[len - 1] == '\t'))
				len--;
			snprintf(where, sizeof(where), "line %lu", rd.lineno);
			if (len - skip > 2 * (size_t)ELK_FACTS_DGRAM_MAX) {
				elk_warn("%s: datagram longer than %d bytes", where,
					 ELK_FACTS_DGRAM_MAX);
				note(ELK_EXIT_USAGE);
				continue;
			}
			if ((len - skip) % 2 ||
			    sodium_hex2bin(d, sizeof(d), line + skip, len - skip, NULL, &n, &end) ||
			    end != line + len) {
				elk_warn("%s: not a datagram in hex (column %zu)", where,
					 (end ? (size_t)(end - line) : skip) + 1);
				note(ELK_EXIT_USAGE);
				continue;
			}
			decode_one(d, n, where, own_priv, src);
		}
		elk_reader_free(&rd);
	}
	if (fflush(stdout) == EOF)
		elk_die_sys("cannot write to stdout");
}

struct encoder {
	uint8_t priv[ELK_KEY_LEN], peer[ELK_KEY_LEN];
	struct elk_facts_packer p;
	unsigned groups;
};

static void flush_group(struct encoder *enc)
{
	uint8_t d[ELK_FACTS_DGRAM_MAX];
	char hex[2 * ELK_FACTS_DGRAM_MAX + 1];
	struct elk_err e;
	size_t n;

	if (elk_facts_group_seal(d, &n, enc->priv, enc->peer, enc->p.inner, enc->p.len, &e) < 0)
		elk_die(ELK_EXIT_USAGE, "%s", e.msg);
	if (raw) {
		if (enc->groups)
			elk_die(ELK_EXIT_USAGE, "--raw: the facts need more than one datagram "
				"(%d bytes of facts each); drop --raw for hex lines",
				ELK_FACTS_GROUP_INNER_MAX);
		if (fwrite(d, 1, n, stdout) != n)
			elk_die_sys("cannot write to stdout");
	} else {
		sodium_bin2hex(hex, sizeof(hex), d, n);
		if (puts(hex) == EOF)
			elk_die_sys("cannot write to stdout");
	}
	enc->groups++;
	elk_facts_packer_reset(&enc->p);
}

static void cmd_encode(const uint8_t priv[ELK_KEY_LEN], const uint8_t peer[ELK_KEY_LEN])
{
	static struct encoder enc;
	static struct elk_fact f;
	struct elk_reader rd;
	struct elk_err e;
	const char *type;
	json_t *rec;
	int r;

	memcpy(enc.priv, priv, ELK_KEY_LEN);
	memcpy(enc.peer, peer, ELK_KEY_LEN);
	elk_facts_packer_reset(&enc.p);
	elk_reader_init(&rd, stdin);
	while ((r = elk_read_record(&rd, &rec, &type, &e)) != 0) {
		if (r == -EIO)
			elk_die(ELK_EXIT_SYS, "%s", e.msg);
		if (r < 0)
			elk_die(ELK_EXIT_USAGE, "line %lu: %s", rd.lineno, e.msg);
		if (strcmp(type, "fact"))
			elk_die(ELK_EXIT_USAGE, "line %lu: type: \"%.32s\" is not a fact record",
				rd.lineno, type);
		r = elk_fact_from_json(rec, &f, &e);
		json_decref(rec);
		if (r < 0)
			elk_die(ELK_EXIT_USAGE, "line %lu: %s", rd.lineno, e.msg);
		r = elk_facts_pack(&enc.p, &f, &e);
		if (r == -ENOSPC) {
			flush_group(&enc);
			r = elk_facts_pack(&enc.p, &f, &e);
		}
		if (r < 0)
			elk_die(ELK_EXIT_USAGE, "line %lu: %s", rd.lineno, e.msg);
	}
	elk_reader_free(&rd);
	if (enc.p.len)
		flush_group(&enc);
	sodium_memzero(&enc, sizeof(enc));
	if (fflush(stdout) == EOF)
		elk_die_sys("cannot write to stdout");
}

int main(int argc, char **argv)
{
	const char *cmd = NULL, *key = NULL, *key_file = NULL, *peer = NULL, *source = NULL;
	bool have_key;
	uint8_t priv[ELK_KEY_LEN], pub[ELK_KEY_LEN], own_pub[ELK_KEY_LEN], src[16];

	elk_init(argv[0]);
	elk_std_opts(argc, argv, help);
	if (argc > 1 && (!strcmp(argv[1], "local") || !strcmp(argv[1], "gossip")))
		return elk_facts_cli(argc - 1, argv + 1);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--raw")) {
			raw = true;
		} else if (!strcmp(a, "--no-verify")) {
			no_verify = true;
		} else if (!strcmp(a, "--key") || !strcmp(a, "--key-file") || !strcmp(a, "--peer") ||
			   !strcmp(a, "--source")) {
			if (i + 1 >= argc)
				elk_die_usage("%s needs a value", a);
			if (!strcmp(a, "--key"))
				key = argv[++i];
			else if (!strcmp(a, "--key-file"))
				key_file = argv[++i];
			else if (a[2] == 'p')
				peer = argv[++i];
			else
				source = argv[++i];
		} else if (a[0] == '-' && a[1]) {
			elk_die_usage("unknown option %s", a);
		} else if (!cmd) {
			cmd = a;
		} else if (!strcmp(cmd, "local") || !strcmp(cmd, "gossip")) {
			continue; /* IFACE and the like, for when they exist */
		} else {
			elk_die_usage("unexpected argument \"%s\"", a);
		}
	}
	if (!cmd)
		elk_die_usage("give a subcommand: decode, encode, local or gossip");
	if (!strcmp(cmd, "local") || !strcmp(cmd, "gossip"))
		elk_die_usage("%s: put the subcommand first (el-facts %s IFACE ...)", cmd, cmd);
	if (strcmp(cmd, "decode") && strcmp(cmd, "encode"))
		elk_die_usage("unknown subcommand \"%.32s\" (decode, encode, local, gossip)",
			      cmd);
	if (no_verify && (key || key_file))
		elk_die_usage("decode: --no-verify and --key contradict each other");
	/* With --no-verify, a key in the environment is not asked for. */
	have_key = !no_verify && elk_facts_key_opt(key, key_file, priv);
	if (!strcmp(cmd, "decode")) {
		if (peer)
			elk_die_usage("--peer belongs to 'el-facts encode'");
		if (!no_verify && !have_key)
			elk_die_usage("decode: give --key-file FILE or --key PRIVATE (or "
				      "EL_FACTS_KEY_FILE, EL_FACTS_KEY) to check signatures, or "
				      "--no-verify");
		if (source && inet_pton(AF_INET6, source, src) != 1)
			elk_die(ELK_EXIT_USAGE, "--source: \"%.64s\" is not an IPv6 address",
				source);
		cmd_decode(have_key ? priv : NULL, source ? src : NULL);
	} else if (!strcmp(cmd, "encode")) {
		peer = elk_opt_env(peer, "EL_FACTS_PEER");
		if (no_verify || source)
			elk_die_usage("--no-verify and --source belong to 'el-facts decode'");
		if (!have_key || !peer)
			elk_die_usage("encode: give --key-file FILE or --key PRIVATE (the sender) "
				      "and --peer PUBKEY (the recipient)");
		parse_key(pub, peer, "--peer");
		if (elk_key_public(own_pub, priv) < 0)
			elk_die(ELK_EXIT_USAGE, "--key: not a usable Curve25519 private key");
		cmd_encode(priv, pub);
	}
	sodium_memzero(priv, sizeof(priv));
	return worst;
}
