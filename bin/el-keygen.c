/* el-keygen - WireGuard keys and the addresses edgelink derives from them. */
#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "cli.h"
#include "file.h"
#include "key.h"
#include "keyfile.h"
#include "records.h"

static const char help[] =
"Usage: el-keygen [--raw] [--out FILE]          a new key pair\n"
"       el-keygen pubkey [--raw] [--out FILE]   public key of the private key on stdin\n"
"       el-keygen psk [--raw] [--out FILE]      a new preshared key\n"
"       el-keygen addr --ll PUBKEY              link-local IPv6 address of a public key\n"
"       el-keygen addr --net CIDR NAME          overlay address of a name in a network\n"
"\n"
"Prints one record on stdout:\n"
"  {\"type\":\"key\",\"private_key\":\"...\",\"public_key\":\"...\"}\n"
"  {\"type\":\"key\",\"public_key\":\"...\"}           (pubkey)\n"
"  {\"type\":\"key\",\"preshared_key\":\"...\"}        (psk)\n"
"  {\"type\":\"address\",\"address\":\"...\"}           (addr)\n"
"Keys are standard base64 of 32 bytes, exactly as wg(8) prints them.\n"
"\n"
"Options:\n"
"  --raw        print the bare key (or address) instead of a record: the same\n"
"               bytes as 'wg genkey', 'wg pubkey', 'wg genpsk'\n"
"  --out FILE   write to FILE instead of stdout, created atomically with mode\n"
"               0600 (env EL_KEYGEN_OUT)\n"
"  --ll PUBKEY  fe80::/64 plus the first 8 bytes of SHA-1 of the key (wirelink)\n"
"  --net CIDR   FNV-1a-128 of NAME fills the host part of CIDR (wesher)\n"
"  -h, --help   this help;  --version  the version\n"
"\n"
"pubkey reads a bare base64 private key or a key record with private_key.\n"
"\n"
"Examples:\n"
"  el-keygen --out /etc/edgelink/wg0.key      keep a key pair, readable by root only\n"
"  wg genkey | el-keygen pubkey --raw         the same as 'wg pubkey'\n"
"  el-keygen addr --net 10.0.0.0/8 web1       -> {\"type\":\"address\",\"address\":\"10....\"}\n"
"\n"
"Exit: 0 ok, 100 usage or bad input, 111 system failure.\n"
"See el-keygen(1) and edgelink-records(7).\n";

static const char *out_path;
static bool raw;

/* Prints text to --out or stdout. secret: text holds a private key. */
static void emit(const char *text, bool secret)
{
	int r;

	if (out_path) {
		if ((r = elk_write_file_atomic(out_path, text, strlen(text))) < 0) {
			errno = -r;
			elk_die_sys("cannot write %s", out_path);
		}
		return;
	}
	if (secret && elk_fd_readable_by_others(STDOUT_FILENO))
		elk_warn("warning: stdout is a file that others can read, and it now holds "
			 "a private key; use --out FILE for a 0600 file");
	if (fputs(text, stdout) == EOF || fflush(stdout) == EOF)
		elk_die_sys("cannot write to stdout");
}

/* Prints rec (as a line) or, with --raw, the bare value of field. */
static void emit_record(json_t *rec, const char *raw_field, bool secret)
{
	char *text;

	if (raw) {
		if (asprintf(&text, "%s\n", json_string_value(json_object_get(rec, raw_field))) < 0)
			elk_die_sys("out of memory");
	} else {
		char *j = json_dumps(rec, JSON_COMPACT);

		if (!j || asprintf(&text, "%s\n", j) < 0)
			elk_die_sys("out of memory");
		sodium_memzero(j, strlen(j));
		free(j);
	}
	emit(text, secret);
	sodium_memzero(text, strlen(text));
	free(text);
	json_decref(rec);
}

static void cmd_genkey(void)
{
	uint8_t priv[ELK_KEY_LEN], pub[ELK_KEY_LEN];
	json_t *rec = elk_record_new("key");

	do
		elk_key_generate_private(priv);
	while (elk_key_public(pub, priv));
	elk_set_key(rec, "private_key", priv);
	elk_set_key(rec, "public_key", pub);
	sodium_memzero(priv, sizeof(priv));
	emit_record(rec, "private_key", true);
}

static void cmd_psk(void)
{
	uint8_t psk[ELK_KEY_LEN];
	json_t *rec = elk_record_new("key");

	elk_key_generate_psk(psk);
	elk_set_key(rec, "preshared_key", psk);
	sodium_memzero(psk, sizeof(psk));
	emit_record(rec, "preshared_key", true);
}

/* Reads exactly one private key from stdin (see keyfile.h). */
static void read_private_key(uint8_t priv[ELK_KEY_LEN])
{
	struct elk_err e;
	int r = elk_read_private_key(stdin, priv, &e);

	if (r == -ENODATA)
		elk_die(ELK_EXIT_USAGE, "empty input: expected a private key on stdin "
			"(a base64 line or a key record)");
	if (r)
		elk_die(ELK_EXIT_USAGE, "%s", e.msg);
}

static void cmd_pubkey(void)
{
	uint8_t priv[ELK_KEY_LEN], pub[ELK_KEY_LEN];
	json_t *rec;
	int r;

	read_private_key(priv);
	r = elk_key_public(pub, priv);
	sodium_memzero(priv, sizeof(priv));
	if (r)
		elk_die(ELK_EXIT_USAGE, "private_key: not a usable Curve25519 key");
	rec = elk_record_new("key");
	elk_set_key(rec, "public_key", pub);
	emit_record(rec, "public_key", false);
}

static void cmd_addr(const char *ll, const char *net, const char *name)
{
	struct elk_cidr c;
	char buf[ELK_CIDR_STRLEN];
	json_t *rec;

	if (!!ll == !!net)
		elk_die_usage("addr: give either --ll PUBKEY or --net CIDR NAME");
	if (ll) {
		uint8_t pub[ELK_KEY_LEN];

		if (name)
			elk_die_usage("addr --ll: unexpected argument \"%s\"", name);
		if (elk_key_from_base64(pub, ll))
			elk_die(ELK_EXIT_USAGE, "--ll: \"%.64s\" is not a public key "
				"(44 characters of base64)", ll);
		c.family = AF_INET6;
		c.len = 64;
		elk_addr_ll_from_key(pub, c.addr);
	} else {
		struct elk_cidr n;

		if (!name)
			elk_die_usage("addr --net CIDR NAME: NAME is missing");
		if (!*name)
			elk_die(ELK_EXIT_USAGE, "NAME: must not be empty");
		if (elk_cidr_parse(net, &n) || !strchr(net, '/'))
			elk_die(ELK_EXIT_USAGE, "--net: \"%.64s\" is not a CIDR (like 10.0.0.0/8)", net);
		if (elk_addr_from_name(&n, name, &c))
			elk_die(ELK_EXIT_USAGE, "--net: %s leaves no host bits", net);
	}
	elk_cidr_format_addr(&c, buf);
	rec = elk_record_new("address");
	json_object_set_new(rec, "address", json_string(buf));
	if (!ll) {
		elk_cidr_format(&c, buf);
		json_object_set_new(rec, "cidr", json_string(buf));
	}
	emit_record(rec, "address", false);
}

int main(int argc, char **argv)
{
	const char *cmd = NULL, *ll = NULL, *net = NULL, *name = NULL;

	elk_init(argv[0]);
	elk_std_opts(argc, argv, help);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--raw")) {
			raw = true;
		} else if (!strcmp(a, "--out") || !strcmp(a, "-o") || !strcmp(a, "--ll") ||
			   !strcmp(a, "--net")) {
			if (i + 1 >= argc)
				elk_die_usage("%s needs a value", a);
			if (a[2] == 'l')
				ll = argv[++i];
			else if (a[2] == 'n')
				net = argv[++i];
			else
				out_path = argv[++i];
		} else if (a[0] == '-' && a[1]) {
			elk_die_usage("unknown option %s", a);
		} else if (!cmd && (!strcmp(a, "pubkey") || !strcmp(a, "psk") ||
				    !strcmp(a, "addr") || !strcmp(a, "genkey"))) {
			cmd = a;
		} else if (cmd && !strcmp(cmd, "addr") && !name) {
			name = a;
		} else {
			elk_die_usage("unexpected argument \"%s\"", a);
		}
	}
	out_path = elk_opt_env(out_path, "EL_KEYGEN_OUT");
	if ((ll || net) && (!cmd || strcmp(cmd, "addr")))
		elk_die_usage("--ll and --net belong to 'el-keygen addr'");
	if (!cmd || !strcmp(cmd, "genkey"))
		cmd_genkey();
	else if (!strcmp(cmd, "pubkey"))
		cmd_pubkey();
	else if (!strcmp(cmd, "psk"))
		cmd_psk();
	else
		cmd_addr(ll, net, name);
	return ELK_EXIT_OK;
}
