/* el-link - bring WireGuard links up, change them, show them, take them down. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "kernel.h"
#include "model.h"
#include "records.h"
#include "rtnl.h"
#include "uapi.h"
#include "uspace.h"

static const char help[] =
"Usage: el-link up IFACE [--backend kernel|userspace|auto] [--daemon] [--verbose]\n"
"       el-link apply IFACE        apply records from stdin to a running link\n"
"       el-link show IFACE [--prometheus] [--sample S]  one status record per peer\n"
"       el-link down IFACE         stop the link\n"
"\n"
"Two backends, the same records: the kernel's WireGuard (netlink; up\n"
"configures the link and returns: the kernel is the device), or the built-in\n"
"userspace WireGuard. up picks the kernel when it has WireGuard, else the\n"
"userspace one (with a note on stderr); apply, show and down use the\n"
"userspace device when IFACE has a UAPI socket, else a kernel link IFACE.\n"
"\n"
"With the userspace backend, up creates IFACE and keeps running as the device\n"
"(a TUN interface). It reads `iface` and `peer` records from stdin\n"
"as they come, and serves the standard UAPI socket\n"
"/var/run/wireguard/IFACE.sock, so wg(8) works against it unchanged:\n"
"  wg show IFACE, wg set IFACE peer ..., wg showconf IFACE\n"
"Closing stdin does not take the link down; 'el-link down IFACE', SIGTERM or\n"
"removing the socket file does. The name on the command line wins over a\n"
"name in an iface record. MTU defaults to 1420; routes are added for every\n"
"peer's allowed IPs (except /0: use policy routing for a default route).\n"
"\n"
"apply reads the whole of stdin first, checks every record, and applies\n"
"nothing if one is wrong (the error names its line and field). Peers it does\n"
"not name keep their sessions.\n"
"\n"
"Options:\n"
"  --backend B    kernel, userspace or auto (the default; env EL_LINK_BACKEND)\n"
"  --prometheus   show: Prometheus text metrics per peer instead of records\n"
"  --under-load N up (userspace): above N handshake messages a second, answer\n"
"                 initiations with cookies and rate-limit each source (1000;\n"
"                 0 = never; env EL_LINK_UNDER_LOAD)\n"
"  --sample S     show: read the counters twice, S seconds apart, so that a peer\n"
"                 we send to while nothing comes back shows as \"error\"\n"
"                 (env EL_LINK_SAMPLE)\n"
"  -d, --daemon   up: read stdin to its end, configure, then go to the\n"
"                 background; exits 0 once the device serves (env EL_LINK_DAEMON=1)\n"
"  -v, --verbose  progress on stderr (env EL_LINK_VERBOSE=1)\n"
"  --timers LIST  override WireGuard's timers, in seconds, for tests:\n"
"                 rekey_after_time=5,reject_after_time=15,rekey_timeout=1,\n"
"                 keepalive_timeout=2,rekey_attempt_time=9 (env EL_LINK_TIMERS)\n"
"  -h, --help     this help;  --version  the version\n"
"\n"
"Examples:\n"
"  el-keygen | jq -c '{type:\"iface\",private_key,listen_port:51820,\n"
"      addresses:[\"10.0.0.1/24\"]}' | el-link up wg0 --daemon\n"
"  echo '{\"type\":\"peer\",\"public_key\":\"...\",\"endpoint\":\"192.0.2.2:51820\",\n"
"        \"allowed_ips\":[\"10.0.0.2/32\"]}' | el-link apply wg0\n"
"  el-link show wg0 | jq 'select(.state != \"connected\")'\n"
"\n"
"Exit: 0 ok, 1 not running, 100 usage or bad input, 111 system failure.\n"
"See el-link(1) and edgelink-records(7).\n";

static int parse_timers(const char *list, struct elk_wg_timers_cfg *t)
{
	static const struct {
		const char *name;
		size_t off;
	} names[] = {
		{ "rekey_after_time", offsetof(struct elk_wg_timers_cfg, rekey_after_time) },
		{ "reject_after_time", offsetof(struct elk_wg_timers_cfg, reject_after_time) },
		{ "rekey_attempt_time", offsetof(struct elk_wg_timers_cfg, rekey_attempt_time) },
		{ "rekey_timeout", offsetof(struct elk_wg_timers_cfg, rekey_timeout) },
		{ "keepalive_timeout", offsetof(struct elk_wg_timers_cfg, keepalive_timeout) },
	};
	char *copy = strdup(list), *save = NULL, *tok;
	int r = 0;

	for (tok = strtok_r(copy, ",", &save); tok && !r; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '='), *end;
		double secs;
		size_t i;

		r = -EINVAL;
		if (!eq)
			break;
		*eq = 0;
		secs = strtod(eq + 1, &end);
		if (*end || end == eq + 1 || secs <= 0 || secs > 86400)
			break;
		for (i = 0; i < sizeof(names) / sizeof(*names); i++) {
			if (!strcmp(tok, names[i].name)) {
				*(uint64_t *)((char *)t + names[i].off) = (uint64_t)(secs * 1e9);
				r = 0;
			}
		}
	}
	free(copy);
	return r;
}

/* Reads every record on stdin into one change set, or dies naming the
 * line: nothing is applied unless everything is right. */
static void read_change(struct elk_device *c)
{
	struct elk_reader rd;
	struct elk_err e;
	json_t *rec;
	const char *type;
	int r;

	elk_reader_init(&rd, stdin);
	while ((r = elk_read_record(&rd, &rec, &type, &e)) != 0) {
		if (r < 0)
			elk_die(ELK_EXIT_USAGE, "line %lu: %s; nothing applied", rd.lineno, e.msg);
		if (!strcmp(type, "iface")) {
			json_object_del(rec, "name");
			r = elk_device_apply_iface(c, rec, &e);
		} else if (!strcmp(type, "peer")) {
			r = elk_device_apply_peer(c, rec, &e);
		} else {
			r = 0;
		}
		json_decref(rec);
		if (r)
			elk_die(ELK_EXIT_USAGE, "line %lu: %s; nothing applied", rd.lineno, e.msg);
	}
	elk_reader_free(&rd);
}

/* Names resolve here, so the device gets numbers and a name that does not
 * resolve fails before anything changes. */
static void resolve_endpoints(struct elk_device *c)
{
	for (size_t i = 0; i < c->n_peers; i++) {
		char num[ELK_ENDPOINT_MAX];

		if (!(c->peers[i].flags & ELK_PEER_ENDPOINT))
			continue;
		if (elk_endpoint_resolve(c->peers[i].endpoint, num, sizeof(num)))
			elk_die(ELK_EXIT_NO, "endpoint: \"%s\" does not resolve; nothing applied",
				c->peers[i].endpoint);
		strcpy(c->peers[i].endpoint, num);
	}
}

enum backend { BACKEND_AUTO, BACKEND_KERNEL, BACKEND_USERSPACE };

/* The userspace device announces itself with its UAPI socket. */
static bool uapi_socket_exists(const char *ifname)
{
	char path[108];
	struct stat st;

	return elk_uapi_sock_path(path, sizeof(path), ifname) == 0 && stat(path, &st) == 0 &&
	       S_ISSOCK(st.st_mode);
}

/* apply, show, down: a UAPI socket means userspace, else a kernel link of
 * that name means kernel; else userspace, whose messages say "not
 * running". */
static enum backend pick_running(enum backend b, const char *ifname)
{
	if (b != BACKEND_AUTO)
		return b;
	if (uapi_socket_exists(ifname))
		return BACKEND_USERSPACE;
	return elk_kernel_is_link(ifname) == 1 ? BACKEND_KERNEL : BACKEND_USERSPACE;
}

static int kernel_exit(int r)
{
	return r == -ENODEV ? ELK_EXIT_NO : ELK_EXIT_SYS;
}

static _Noreturn void die_no_kernel(const char *ifname, const struct elk_err *e)
{
	elk_die(ELK_EXIT_SYS, "%s: kernel backend: %s; the built-in userspace WireGuard "
		"needs no module: use --backend userspace (or --backend auto, or "
		"EL_LINK_BACKEND=userspace)", ifname, e->msg);
}

static int kernel_up(const char *ifname, bool read_stdin)
{
	struct elk_device c = { 0 };
	struct elk_err e;
	int r;

	if (read_stdin)
		read_change(&c);
	resolve_endpoints(&c);
	r = elk_kernel_up(ifname, &c, &e);
	elk_device_clear(&c);
	if (r)
		elk_die(kernel_exit(r), "%s: %s", ifname, e.msg);
	return 0;
}

static int connect_or_die(const char *ifname)
{
	int fd = elk_uapi_connect(ifname);

	if (fd == -ENOENT)
		elk_die(ELK_EXIT_NO, "%s: not running (no %s/%s.sock)", ifname, ELK_UAPI_DIR, ifname);
	if (fd < 0)
		elk_die(ELK_EXIT_SYS, "%s: cannot reach %s/%s.sock: %s", ifname, ELK_UAPI_DIR, ifname,
			strerror(-fd));
	return fd;
}

/* One reading of the device's peers and counters. */
static void read_device(const char *ifname, bool kernel, struct elk_device *d)
{
	struct elk_err e;
	int r;

	if (kernel) {
		if ((r = elk_kernel_show(ifname, d, &e)))
			elk_die(kernel_exit(r), "%s: %s", ifname, e.msg);
	} else {
		int fd = connect_or_die(ifname);

		r = elk_uapi_get(fd, d, &e);
		close(fd);
		if (r)
			elk_die(ELK_EXIT_SYS, "%s: %s", ifname, e.msg);
	}
	snprintf(d->name, sizeof(d->name), "%s", ifname);
}

static int cmd_apply(const char *ifname, enum backend b)
{
	struct elk_device c = { 0 }, before = { 0 }, after = { 0 };
	bool kernel;
	struct elk_err e;
	struct elk_rtnl rt;
	char err[256];
	int r;

	read_change(&c);
	resolve_endpoints(&c);
	kernel = pick_running(b, ifname) == BACKEND_KERNEL;
	read_device(ifname, kernel, &before);
	if (kernel) {
		r = elk_kernel_apply(ifname, &c, &e);
		if (r)
			elk_die(kernel_exit(r), "%s: %s", ifname, e.msg);
	} else {
		int fd = connect_or_die(ifname);

		r = elk_uapi_set(fd, &c, &e);
		close(fd);
		if (r)
			elk_die(r == -EINVAL ? ELK_EXIT_USAGE : ELK_EXIT_SYS, "%s: %s", ifname, e.msg);
		/* The kernel backend adds addresses and routes itself. */
		if ((r = elk_rtnl_open(&rt)) ||
		    (r = elk_rtnl_apply_device(&rt, elk_rtnl_ifindex(ifname), &c, false, err,
					       sizeof(err))))
			elk_die(ELK_EXIT_SYS, "%s: %s", ifname, r ? err : "netlink");
		elk_rtnl_close(&rt);
	}
	/* Routes of allowed IPs that no peer has any more go too. */
	read_device(ifname, kernel, &after);
	if ((r = elk_rtnl_open(&rt)) ||
	    (r = elk_rtnl_drop_stale_routes(&rt, elk_rtnl_ifindex(ifname), &before, &after)))
		elk_die(ELK_EXIT_SYS, "%s: cannot remove stale routes: %s", ifname, strerror(-r));
	elk_rtnl_close(&rt);
	elk_device_clear(&before);
	elk_device_clear(&after);
	elk_device_clear(&c);
	return 0;
}

/* A Prometheus label value: backslash, quote and newline escaped. */
static void prom_label(FILE *f, const char *name, const char *v, bool last)
{
	fprintf(f, "%s=\"", name);
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
	fputs(last ? "\"}" : "\",", f);
}

/* Metrics named after Submariner's cable driver metrics
 * (submariner_connections, submariner_connection_established_timestamp,
 * submariner_gateway_rx_bytes/tx_bytes), one series per peer, labelled with
 * the backend, interface, peer public key and the peer's endpoint IP. */
static void print_prometheus(FILE *f, const struct elk_device *d, const struct elk_device *prev,
			     const char *driver, int64_t now)
{
	static const struct {
		const char *name, *help;
	} m[] = {
		{ "edgelink_connections",
		  "Connection of a peer in its status: connected, connecting, error or none" },
		{ "edgelink_connection_established_timestamp",
		  "Unix time of the peer's last handshake (0: never)" },
		{ "edgelink_rx_bytes", "Bytes received from the peer" },
		{ "edgelink_tx_bytes", "Bytes sent to the peer" },
	};

	for (size_t k = 0; k < sizeof(m) / sizeof(*m); k++) {
		fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", m[k].name, m[k].help, m[k].name);
		for (size_t i = 0; i < d->n_peers; i++) {
			const struct elk_peer *p = &d->peers[i];
			char key[ELK_KEY_B64_LEN + 1], host[256] = "";
			uint16_t port;

			elk_key_to_base64(key, p->public_key);
			if ((p->flags & ELK_PEER_ENDPOINT) &&
			    elk_endpoint_split(p->endpoint, host, sizeof(host), &port))
				host[0] = 0;
			fprintf(f, "%s{", m[k].name);
			prom_label(f, "cable_driver", driver, false);
			prom_label(f, "interface", d->name, false);
			prom_label(f, "public_key", key, false);
			prom_label(f, "remote_endpoint_ip", host, k != 0);
			if (k == 0) {
				const struct elk_peer *was =
					prev ? elk_device_find_peer(prev, p->public_key) : NULL;

				prom_label(f, "status", elk_peer_state(p, was, now), true);
				fputs(" 1\n", f);
			} else if (k == 1) {
				fprintf(f, " %lld\n", (long long)p->last_handshake);
			} else {
				fprintf(f, " %llu\n",
					(unsigned long long)(k == 2 ? p->rx_bytes : p->tx_bytes));
			}
		}
	}
}

/* sample > 0: read twice, that many seconds apart, so the state can tell
 * a peer we send to in vain (error) from one that is just waiting. */
static int cmd_show(const char *ifname, enum backend b, bool prometheus, double sample)
{
	struct elk_device d = { 0 }, prev = { 0 };
	bool kernel = pick_running(b, ifname) == BACKEND_KERNEL;
	int64_t now;

	if (sample > 0) {
		struct timespec ts = { (time_t)sample, (long)((sample - (double)(time_t)sample) * 1e9) };

		read_device(ifname, kernel, &prev);
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	read_device(ifname, kernel, &d);
	now = (int64_t)time(NULL);
	if (prometheus)
		print_prometheus(stdout, &d, sample > 0 ? &prev : NULL,
				 kernel ? "kernel" : "userspace", now);
	for (size_t i = 0; !prometheus && i < d.n_peers; i++) {
		const struct elk_peer *was =
			sample > 0 ? elk_device_find_peer(&prev, d.peers[i].public_key) : NULL;
		json_t *rec = elk_status_record(&d, &d.peers[i], was, now);

		if (!rec || elk_write_record(stdout, rec))
			elk_die_sys("cannot write to stdout");
		json_decref(rec);
	}
	elk_device_clear(&d);
	elk_device_clear(&prev);
	if (fflush(stdout) || ferror(stdout))
		elk_die_sys("cannot write to stdout");
	return 0;
}

static int cmd_down(const char *ifname, enum backend b)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char path[108];
	int fd;

	if (pick_running(b, ifname) == BACKEND_KERNEL) {
		struct elk_err e;
		int r = elk_kernel_down(ifname, &e);

		if (r)
			elk_die(kernel_exit(r), "%s: %s", ifname, e.msg);
		return 0;
	}
	fd = connect_or_die(ifname);
	/* The socket's owner is the device process. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		elk_die_sys("%s: cannot tell which process serves it", ifname);
	close(fd);
	elk_uapi_sock_path(path, sizeof(path), ifname);
	unlink(path);
	if (cred.pid > 0 && kill(cred.pid, SIGTERM) < 0 && errno != ESRCH)
		elk_die_sys("%s: cannot stop process %d", ifname, (int)cred.pid);
	/* Done when the interface is gone (the process closed its TUN). */
	for (int i = 0; i < 100 && elk_rtnl_ifindex(ifname); i++)
		poll(NULL, 0, 50);
	if (elk_rtnl_ifindex(ifname))
		elk_die(ELK_EXIT_SYS, "%s: still there after 5 seconds", ifname);
	return 0;
}

static bool env_true(const char *name)
{
	const char *v = getenv(name);

	return v && *v && strcmp(v, "0") && strcmp(v, "no") && strcmp(v, "false");
}

int main(int argc, char **argv)
{
	const char *cmd = NULL, *ifname = NULL, *backend = NULL, *timers = NULL, *sample = NULL;
	const char *under_load = NULL;
	struct elk_uspace_opts o = { 0 };
	double sample_s = 0;
	enum backend b = BACKEND_AUTO;
	bool prometheus = false;

	elk_init(argv[0]);
	elk_std_opts(argc, argv, help);
	elk_wg_dev_default_cfg(&o.dev);
	o.daemonize = env_true("EL_LINK_DAEMON");
	o.verbose = env_true("EL_LINK_VERBOSE");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--backend") || !strcmp(a, "--timers") || !strcmp(a, "--sample") ||
		    !strcmp(a, "--under-load")) {
			if (i + 1 >= argc)
				elk_die_usage("%s needs a value", a);
			*(a[2] == 'b' ? &backend : a[2] == 't' ? &timers : a[2] == 's' ? &sample
											: &under_load) = argv[++i];
		} else if (!strcmp(a, "-d") || !strcmp(a, "--daemon")) {
			o.daemonize = true;
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			o.verbose = true;
		} else if (!strcmp(a, "--prometheus")) {
			prometheus = true;
		} else if (a[0] == '-' && a[1]) {
			elk_die_usage("unknown option %s", a);
		} else if (!cmd) {
			cmd = a;
		} else if (!ifname) {
			ifname = a;
		} else {
			elk_die_usage("unexpected argument \"%s\"", a);
		}
	}
	if (!cmd)
		elk_die_usage("a subcommand is missing: up, apply, show or down");
	if (strcmp(cmd, "up") && strcmp(cmd, "apply") && strcmp(cmd, "show") && strcmp(cmd, "down"))
		elk_die_usage("unknown subcommand \"%s\"", cmd);
	if (!ifname)
		elk_die_usage("%s: the interface name is missing", cmd);
	if (!elk_ifname_valid(ifname))
		elk_die(ELK_EXIT_USAGE, "\"%s\" is not an interface name (1 to 15 characters, "
			"no '/', ':' or spaces)", ifname);
	if (prometheus && strcmp(cmd, "show"))
		elk_die_usage("--prometheus goes with show");
	under_load = elk_opt_env(under_load, "EL_LINK_UNDER_LOAD");
	if (under_load) {
		char *end;
		long v = strtol(under_load, &end, 10);

		if (!*under_load || *end || v < 0 || v > 10000000)
			elk_die_usage("--under-load: \"%s\" is not a number of handshakes per second",
				      under_load);
		o.dev.under_load_per_sec = (uint32_t)v;
	}
	sample = elk_opt_env(sample, "EL_LINK_SAMPLE");
	if (sample) {
		char *end;

		sample_s = strtod(sample, &end);
		if (!*sample || *end || !(sample_s > 0 && sample_s <= 3600))
			elk_die_usage("--sample: \"%s\" is not a number of seconds from 0 to 3600", sample);
		if (strcmp(cmd, "show"))
			elk_die_usage("--sample goes with show");
	}
	backend = elk_opt_env(backend, "EL_LINK_BACKEND");
	if (backend && !strcmp(backend, "kernel"))
		b = BACKEND_KERNEL;
	else if (backend && !strcmp(backend, "userspace"))
		b = BACKEND_USERSPACE;
	else if (backend && strcmp(backend, "auto"))
		elk_die_usage("--backend: \"%s\" is not userspace, kernel or auto", backend);
	timers = elk_opt_env(timers, "EL_LINK_TIMERS");
	if (timers && parse_timers(timers, &o.dev.timers))
		elk_die_usage("--timers: \"%s\" is not NAME=SECONDS,... (see --help)", timers);

	if (!strcmp(cmd, "up")) {
		struct elk_err e;

		/* The kernel's timers are its own: asking for others means
		 * the userspace device. */
		if (b == BACKEND_AUTO && timers)
			b = BACKEND_USERSPACE;
		if (b != BACKEND_USERSPACE) {
			if (elk_kernel_available(&e) == 0)
				return kernel_up(ifname, !isatty(STDIN_FILENO));
			if (b == BACKEND_KERNEL)
				die_no_kernel(ifname, &e);
			elk_warn("note: %s; using the built-in userspace WireGuard "
				 "(--backend userspace says so and skips this note)", e.msg);
		}
		o.ifname = ifname;
		o.read_stdin = !isatty(STDIN_FILENO);
		return elk_uspace_run(&o);
	}
	if (!strcmp(cmd, "apply"))
		return cmd_apply(ifname, b);
	if (!strcmp(cmd, "show"))
		return cmd_show(ifname, b, prometheus, sample_s);
	return cmd_down(ifname, b);
}
