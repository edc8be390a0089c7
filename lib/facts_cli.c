/* facts_cli.c - the command lines of `el-facts local IFACE` and `el-facts
 * gossip IFACE`: options, environment, exit codes (lib/cli.h), for issue 5
 * and el-facts(1). The work is in facts_local.c and facts_gossip.c. */
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "facts_cli.h"
#include "facts_gossip.h"
#include "facts_local.h"
#include "keyfile.h"

#define MAX_LIST 64

int elk_facts_key_opt(const char *key, const char *key_file, uint8_t priv[ELK_KEY_LEN])
{
	struct elk_err e;
	FILE *f;
	int r;

	if (key && key_file)
		elk_die_usage("give --key or --key-file, not both");
	if (!key && !key_file) {
		key_file = elk_opt_env(NULL, "EL_FACTS_KEY_FILE");
		key = key_file ? NULL : elk_opt_env(NULL, "EL_FACTS_KEY");
	}
	if (key) {
		/* Never quote the value: it is a private key. */
		if (elk_key_from_base64(priv, key))
			elk_die_usage("--key: not a key (want 44 characters of base64 for 32 "
				      "bytes, got %zu characters)", strlen(key));
		return 1;
	}
	if (!key_file)
		return 0;
	if (!(f = fopen(key_file, "r")))
		elk_die_sys("--key-file: cannot open %s", key_file);
	r = elk_read_private_key(f, priv, &e);
	fclose(f);
	if (r == -ENODATA)
		elk_die(ELK_EXIT_USAGE, "--key-file: %s is empty", key_file);
	if (r)
		elk_die(ELK_EXIT_USAGE, "--key-file: %s: %s", key_file, e.msg);
	return 1;
}

int elk_facts_cli(int argc, char **argv)
{
	const char *cmd = argv[0], *ifname = NULL, *key = NULL, *key_file = NULL;
	const char *ttl = NULL, *cycle = NULL, *alive = NULL;
	const char *inc[MAX_LIST], *exc[MAX_LIST];
	struct elk_cidr routes[MAX_LIST];
	size_t ninc = 0, nexc = 0, nroutes = 0;
	struct elk_facts_gossip_opts o = { .in_fd = 0, .out = stdout };
	bool gossip = !strcmp(cmd, "gossip"), no_stdin = false;
	uint8_t priv[ELK_KEY_LEN];
	struct elk_err e;
	int r;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--relay") && gossip) {
			o.relay = true;
			continue;
		}
		if (!strcmp(a, "--no-stdin") && gossip) {
			no_stdin = true;
			continue;
		}
		if (a[0] != '-') {
			if (ifname)
				elk_die_usage("%s: unexpected argument \"%.32s\"", cmd, a);
			ifname = a;
			continue;
		}
		if (!v)
			elk_die_usage("%s needs a value", a);
		if ((!strcmp(a, "--include") || !strcmp(a, "--exclude") || !strcmp(a, "--route")) &&
		    ninc + nexc + nroutes >= MAX_LIST)
			elk_die_usage("%s: at most %d globs and routes together", a, MAX_LIST);
		if (!strcmp(a, "--include")) {
			inc[ninc++] = v;
		} else if (!strcmp(a, "--exclude")) {
			exc[nexc++] = v;
		} else if (!strcmp(a, "--route")) {
			if (elk_cidr_parse(v, &routes[nroutes]) < 0)
				elk_die_usage("--route: \"%.64s\" is not a CIDR", v);
			nroutes++;
		} else if (!strcmp(a, "--ttl")) {
			ttl = v;
		} else if (!strcmp(a, "--cycle") && gossip) {
			cycle = v;
		} else if (!strcmp(a, "--alive") && gossip) {
			alive = v;
		} else if (!strcmp(a, "--key") && gossip) {
			key = v;
		} else if (!strcmp(a, "--key-file") && gossip) {
			key_file = v;
		} else {
			elk_die_usage("%s: unknown option %s", cmd, a);
		}
		i++;
	}
	if (!ifname)
		elk_die_usage("%s: give the WireGuard interface (el-facts %s IFACE)", cmd, cmd);
	if (!elk_ifname_valid(ifname))
		elk_die_usage("%s: \"%.32s\" is not an interface name", cmd, ifname);
	o.local.ifname = ifname;
	o.local.include = inc;
	o.local.n_include = ninc;
	o.local.exclude = exc;
	o.local.n_exclude = nexc;
	o.local.routes = routes;
	o.local.n_routes = nroutes;
	o.local.ttl = elk_opt_seconds(ttl, "EL_FACTS_TTL", "--ttl", ELK_FACT_TTL_DEFAULT, 1,
			      ELK_FACT_TTL_MAX);
	/* A boot id per process start: peers that see it change know we
	 * forgot what they told us. */
	randombytes_buf(o.local.boot_id, sizeof(o.local.boot_id));
	if (!gossip) {
		struct elk_device d = { 0 };
		struct elk_facts_list l = { 0 };

		if ((r = elk_facts_read_device(ifname, &d, &e)) < 0)
			elk_die(r == -ENODEV ? ELK_EXIT_NO : ELK_EXIT_SYS, "%s", e.msg);
		r = elk_facts_local(&d, &o.local, time(NULL), &l, &e);
		elk_device_clear(&d);
		if (r < 0)
			elk_die(ELK_EXIT_SYS, "%s", e.msg);
		for (size_t i = 0; i < l.n; i++) {
			json_t *rec = elk_fact_to_json(&l.v[i], NULL);

			if (!rec || elk_write_record(stdout, rec) < 0)
				elk_die_sys("cannot write to stdout");
			json_decref(rec);
		}
		elk_facts_list_free(&l);
		if (fflush(stdout) == EOF)
			elk_die_sys("cannot write to stdout");
		return ELK_EXIT_OK;
	}
	o.cycle = elk_opt_seconds(cycle, "EL_FACTS_CYCLE", "--cycle", 5, 1, 3600);
	o.alive = elk_opt_seconds(alive, "EL_FACTS_ALIVE", "--alive", 30, 1, ELK_FACT_TTL_MAX);
	if (elk_facts_key_opt(key, key_file, priv))
		o.private_key = priv;
	if (no_stdin)
		o.in_fd = -1;
	/* A reader that went away ends us with EPIPE, not a signal: the
	 * message says why. */
	signal(SIGPIPE, SIG_IGN);
	r = elk_facts_gossip(&o, &e);
	sodium_memzero(priv, sizeof(priv));
	if (r == -ENODEV)
		elk_die(ELK_EXIT_NO, "%s", e.msg);
	if (r == -EINVAL)
		elk_die(ELK_EXIT_USAGE, "%s", e.msg);
	if (r < 0)
		elk_die(ELK_EXIT_SYS, "%s", e.msg);
	return ELK_EXIT_OK;
}
