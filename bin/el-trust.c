/* el-trust - which facts to believe, from whom, and the peer records they
 * make: wirelink's trust model (../shared/FACTS-WIRE.md "Trust", issue 5,
 * el-trust(1)) over lib/trust.h's pure decision and fold. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "facts_local.h"
#include "key.h"
#include "model.h"
#include "records.h"
#include "trust.h"

static const char help[] =
"Usage: el-trust [--policy FILE] [--iface IFACE [--refresh S] | --device FILE]\n"
"                [--self PUBKEY]\n"
"                [--peers [--stale S] [--try S]] [--explain]\n"
"\n"
"Reads fact records on stdin and prints the ones it believes, byte for byte;\n"
"with --peers, folds them into peer records for el-link apply instead, as\n"
"facts arrive and expire. Other record types pass through untouched.\n"
"\n"
"Levels: untrusted < endpoint < allowed-ips < membership. A fact needs:\n"
"  endpoint      endpoint          allowed_ip    allowed-ips\n"
"  member        membership        alive, other  endpoint (never config)\n"
"and membership whatever its attribute when its subject is not on the device.\n"
"Facts about ourselves (--self) are never believed. A source's level: its\n"
"entry in the policy, else the higher of the policy's default and what the\n"
"device says: membership for a peer routing a network (when the policy names\n"
"no peer), endpoint for any other peer on the device.\n"
"\n"
"Options:\n"
"  --policy FILE   {\"default\":LEVEL,\"peers\":{PUBKEY:LEVEL,...}} (env EL_TRUST_POLICY)\n"
"  --iface IFACE   read the device's peers from the live device (env EL_TRUST_IFACE)\n"
"  --refresh S     with --iface: read it again every S seconds; 0 only at start\n"
"                  (default 5; env EL_TRUST_REFRESH)\n"
"  --device FILE   read them from iface/peer/status records (env EL_TRUST_DEVICE)\n"
"  --self PUBKEY   our public key; else the device's (env EL_TRUST_SELF)\n"
"  --peers         print peer records, not facts (env EL_TRUST_PEERS=1)\n"
"  --stale S       with --peers: allowed IPs from facts go to a peer only while\n"
"                  facts from that peer itself arrived within S seconds; 0 turns\n"
"                  this off (default 65, two alive periods and a cycle;\n"
"                  env EL_TRUST_STALE)\n"
"  --try S         with --peers: an unhealthy peer's endpoint moves to the next\n"
"                  candidate every S seconds; 0 never (default 15; env EL_TRUST_TRY)\n"
"  --explain       say on stderr why each rejected fact was rejected\n"
"                  (env EL_TRUST_EXPLAIN=1)\n"
"  -h, --help      this help;  --version  the version\n"
"\n"
"Examples:\n"
"  el-facts gossip wg0 | el-trust --iface wg0 --explain\n"
"  el-facts gossip wg0 | el-trust --iface wg0 --peers |\n"
"    while IFS= read -r rec; do printf '%s\\n' \"$rec\" | el-link apply wg0; done\n"
"\n"
"A malformed record is reported and skipped; the exit status is then 100.\n"
"Exit: 0 ok, 100 usage or malformed input, 111 system failure. See el-trust(1).\n";

static bool explain;
static unsigned stale_s = 65, try_s = 15, refresh_s = 5;
/* --iface: the live device, read again every refresh_s seconds. */
static const char *live;
static int64_t next_refresh_ms;
static int worst = ELK_EXIT_OK;

static bool env_flag(const char *name)
{
	const char *v = getenv(name);

	return v && *v && strcmp(v, "0");
}

static void load_policy(const char *path, struct elk_trust_policy *p)
{
	json_error_t je;
	struct elk_err e;
	json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);

	if (!doc) {
		if (je.line < 0 || strstr(je.text, "unable to open"))
			elk_die(ELK_EXIT_SYS, "policy %s: %s", path, je.text);
		elk_die(ELK_EXIT_USAGE, "policy %s: line %d: %s", path, je.line, je.text);
	}
	if (elk_trust_policy_from_json(doc, p, &e))
		elk_die(ELK_EXIT_USAGE, "policy %s: %s", path, e.msg);
	json_decref(doc);
}

/* iface, peer and status records (what el-link show prints) describe a
 * device; other types are skipped so that any saved stream will do. */
static void load_device_file(const char *path, struct elk_device *d)
{
	struct elk_reader rd;
	struct elk_err e;
	const char *type;
	json_t *rec;
	int r;
	FILE *f = fopen(path, "r");

	if (!f)
		elk_die_sys("device %s", path);
	elk_reader_init(&rd, f);
	while ((r = elk_read_record(&rd, &rec, &type, &e)) != 0) {
		if (r < 0)
			elk_die(ELK_EXIT_USAGE, "device %s: line %lu: %s", path, rd.lineno, e.msg);
		if (!strcmp(type, "iface"))
			r = elk_device_apply_iface(d, rec, &e);
		else if (!strcmp(type, "peer") || !strcmp(type, "status"))
			r = elk_device_apply_peer(d, rec, &e);
		if (r < 0)
			elk_die(ELK_EXIT_USAGE, "device %s: line %lu: %s", path, rd.lineno, e.msg);
		if (!strcmp(type, "status")) {
			uint8_t k[ELK_KEY_LEN];
			long long lh;
			struct elk_peer *p;

			/* A status's handshake says whether its endpoint works. */
			if (elk_field_key(rec, "public_key", k, &e) == 1 &&
			    elk_field_int(rec, "last_handshake", 0, INT64_MAX, &lh, &e) == 1 &&
			    (p = elk_device_find_peer(d, k)))
				p->last_handshake = lh;
		}
		json_decref(rec);
	}
	elk_reader_free(&rd);
	fclose(f);
}

static void load_device_live(const char *ifname, struct elk_device *d)
{
	struct elk_err e;

	if (elk_facts_read_device(ifname, d, &e))
		elk_die(ELK_EXIT_SYS, "%s: %s", ifname, e.msg);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The fold counts whole seconds. A fact is stored from the next whole
 * second and dropped once that many seconds have fully passed, so it lives
 * at least its ttl and less than a second more: forgetting late is the
 * safe side, since senders re-announce before a fact would expire. */
static int64_t mono_now(void)
{
	return mono_ms() / 1000;
}

static int64_t mono_now_up(void)
{
	return (mono_ms() + 999) / 1000;
}

static void out_flush(void)
{
	if (fflush(stdout) == EOF)
		elk_die_sys("cannot write to stdout");
}

static void say_rejected(unsigned long line, const struct elk_trust_fact *f, int rule,
			 enum elk_trust_level level, const char *attr)
{
	char subj[ELK_KEY_B64_LEN + 1], src[ELK_KEY_B64_LEN + 1];

	if (!explain)
		return;
	elk_key_to_base64(subj, f->subject);
	elk_key_to_base64(src, f->source);
	elk_warn("line %lu: rejected %.32s fact about %s from %s (%s): %s [rule %s]", line,
		 attr, subj, src, elk_trust_level_name(level),
		 elk_trust_rule_text((enum elk_trust_rule)rule),
		 elk_trust_rule_name((enum elk_trust_rule)rule));
}

/* --explain: when health decides what a peer gets. */
static void say_health(void *arg, const uint8_t key[ELK_KEY_LEN], bool healthy, int64_t silent)
{
	char k[ELK_KEY_B64_LEN + 1];

	(void)arg;
	if (!explain)
		return;
	elk_key_to_base64(k, key);
	if (healthy)
		elk_warn("peer %s: heard over its tunnel: its allowed IPs from facts go in", k);
	else if (silent < 0)
		elk_warn("peer %s: not heard from yet: its allowed IPs from facts wait "
			 "[rule stale]", k);
	else
		elk_warn("peer %s: silent for %lld s: its allowed IPs from facts are withdrawn, "
			 "other routes carry its traffic [rule stale]", k, (long long)silent);
}

static void emit(json_t *out)
{
	size_t i;
	json_t *rec;

	json_array_foreach(out, i, rec)
		if (elk_write_record(stdout, rec) < 0)
			elk_die_sys("cannot write to stdout");
	json_array_clear(out);
	out_flush();
}

static void sync_or_die(struct elk_trust_fold *t, json_t *out)
{
	if (elk_trust_fold_sync(t, mono_now(), out))
		elk_die(ELK_EXIT_SYS, "out of memory");
	emit(out);
}

static bool refresh_due(void)
{
	return live && refresh_s && mono_ms() >= next_refresh_ms;
}

/* Reads the live device again into d. A failed read keeps the last view,
 * said once per streak of failures: the device may be between a down and
 * an up. True when d was replaced. */
static bool refresh(struct elk_device *d)
{
	static bool failing;
	struct elk_device fresh = { 0 };
	struct elk_err e;

	next_refresh_ms = mono_ms() + (int64_t)refresh_s * 1000;
	if (elk_facts_read_device(live, &fresh, &e)) {
		if (!failing)
			elk_warn("%s: %s (keeping the last view of it)", live, e.msg);
		failing = true;
		elk_device_clear(&fresh);
		return false;
	}
	if (failing)
		elk_warn("%s: read again", live);
	failing = false;
	elk_device_clear(d);
	*d = fresh;
	return true;
}

/* Waits for input, waking up when the fold has something to say on its
 * own (a fact expires, a peer turns stale, an endpoint is due) or the
 * device is due to be read again, so that the records go out on time even
 * while the sender is quiet. */
static void wait_input(struct elk_trust_fold *t, struct elk_device *d, json_t *out)
{
	for (;;) {
		int64_t next = elk_trust_fold_next_event(t), due = -1;
		int ms = -1;
		struct pollfd p = { .fd = 0, .events = POLLIN };

		if (next >= 0)
			due = next * 1000;
		if (live && refresh_s && (due < 0 || next_refresh_ms < due))
			due = next_refresh_ms;
		if (due >= 0) {
			int64_t left = due - mono_ms();

			ms = left <= 0 ? 0 : left > 3600000 ? 3600000 : (int)left;
		}
		int r = poll(&p, 1, ms);

		if (r > 0)
			return;
		if (r < 0 && errno != EINTR)
			elk_die_sys("poll");
		if (r == 0) {
			if (refresh_due() && refresh(d) && elk_trust_fold_rebase(t, d, time(NULL)))
				elk_die(ELK_EXIT_SYS, "out of memory");
			sync_or_die(t, out);
		}
	}
}

static void run(const struct elk_trust_policy *policy, struct elk_device *d,
		const uint8_t *self, bool peers)
{
	struct elk_trust_fold fold;
	struct elk_reader rd;
	struct elk_err e;
	json_t *out = json_array();
	char *line;
	size_t len;
	int r;

	if (!out || (peers && elk_trust_fold_init(&fold, policy, d, self, time(NULL))))
		elk_die(ELK_EXIT_SYS, "out of memory");
	if (peers) {
		fold.stale = stale_s;
		fold.try_every = try_s;
		fold.on_health = say_health;
	}
	/* Unbuffered, so that poll() on fd 0 sees every line stdio has not
	 * taken yet: facts are few and small. */
	if (peers)
		setvbuf(stdin, NULL, _IONBF, 0);
	elk_reader_init(&rd, stdin);
	for (;;) {
		json_t *rec;
		const char *type, *attr;
		struct elk_trust_fact f;

		if (peers)
			wait_input(&fold, d, out);
		if ((r = elk_read_line(&rd, &line, &len, &e)) == 0)
			break;
		if (r < 0) {
			elk_warn("line %lu: %s", rd.lineno, e.msg);
			worst = ELK_EXIT_USAGE;
			if (r == -EIO)
				break;
			continue;
		}
		if (elk_parse_record(line, len, &rec, &type, &e) < 0) {
			elk_warn("line %lu: %s", rd.lineno, e.msg);
			worst = ELK_EXIT_USAGE;
			continue;
		}
		if (strcmp(type, "fact")) {
			json_decref(rec);
			if (elk_pass_through(stdout, &rd) < 0)
				elk_die_sys("cannot write to stdout");
			out_flush();
			continue;
		}
		if (elk_trust_fact_from_json(rec, &f, &e) < 0) {
			elk_warn("line %lu: %s", rd.lineno, e.msg);
			worst = ELK_EXIT_USAGE;
			json_decref(rec);
			continue;
		}
		attr = json_string_value(json_object_get(rec, "attribute"));
		if (peers) {
			/* Whatever it says, it came over the source's tunnel. */
			if (elk_trust_fold_heard(&fold, f.source, mono_now()))
				elk_die(ELK_EXIT_SYS, "out of memory");
			r = elk_trust_fold_add(&fold, &f, mono_now_up());
			if (r < 0)
				elk_die(ELK_EXIT_SYS, "out of memory");
			if (r != ELK_TRULE_BELIEVED)
				say_rejected(rd.lineno, &f, r,
					     elk_trust_fold_source_level(&fold, f.source), attr);
			sync_or_die(&fold, out);
		} else {
			if (refresh_due())
				refresh(d);
			r = elk_trust_judge(policy, d, self, &f);
			if (r == ELK_TRULE_BELIEVED) {
				if (elk_pass_through(stdout, &rd) < 0)
					elk_die_sys("cannot write to stdout");
				out_flush();
			} else {
				say_rejected(rd.lineno, &f, r,
					     elk_trust_source_level(policy, d, f.source), attr);
			}
		}
		json_decref(rec);
	}
	elk_reader_free(&rd);
	if (peers)
		elk_trust_fold_free(&fold);
	json_decref(out);
}

int main(int argc, char **argv)
{
	const char *policy_path = NULL, *iface = NULL, *device = NULL, *self_s = NULL;
	const char *stale_o = NULL, *try_o = NULL, *refresh_o = NULL;
	bool peers = false;
	struct elk_trust_policy policy = { 0 };
	struct elk_device d = { 0 };
	uint8_t self[ELK_KEY_LEN];
	bool have_self = false;

	elk_init(argv[0]);
	elk_std_opts(argc, argv, help);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **v = NULL;

		if (!strcmp(a, "--peers"))
			peers = true;
		else if (!strcmp(a, "--explain"))
			explain = true;
		else if (!strcmp(a, "--policy"))
			v = &policy_path;
		else if (!strcmp(a, "--iface"))
			v = &iface;
		else if (!strcmp(a, "--device"))
			v = &device;
		else if (!strcmp(a, "--self"))
			v = &self_s;
		else if (!strcmp(a, "--stale"))
			v = &stale_o;
		else if (!strcmp(a, "--try"))
			v = &try_o;
		else if (!strcmp(a, "--refresh"))
			v = &refresh_o;
		else if (a[0] == '-' && a[1])
			elk_die_usage("unknown option %s", a);
		else
			elk_die_usage("unexpected argument \"%.32s\"", a);
		if (v) {
			if (i + 1 >= argc)
				elk_die_usage("%s needs a value", a);
			*v = argv[++i];
		}
	}
	policy_path = elk_opt_env(policy_path, "EL_TRUST_POLICY");
	/* One device view: an option beats the other's variable. */
	if (!iface && !device) {
		iface = elk_opt_env(NULL, "EL_TRUST_IFACE");
		device = elk_opt_env(NULL, "EL_TRUST_DEVICE");
	}
	self_s = elk_opt_env(self_s, "EL_TRUST_SELF");
	peers = peers || env_flag("EL_TRUST_PEERS");
	explain = explain || env_flag("EL_TRUST_EXPLAIN");
	refresh_s = elk_opt_seconds(refresh_o, "EL_TRUST_REFRESH", "--refresh", refresh_s, 0, 86400);
	stale_s = elk_opt_seconds(stale_o, "EL_TRUST_STALE", "--stale", stale_s, 0, 86400);
	try_s = elk_opt_seconds(try_o, "EL_TRUST_TRY", "--try", try_s, 0, 86400);
	if (iface && device)
		elk_die_usage("--iface and --device are two views of the device: give one");
	if (iface && !elk_ifname_valid(iface))
		elk_die_usage("--iface: \"%.32s\" is not an interface name", iface);

	if (policy_path)
		load_policy(policy_path, &policy);
	if (device)
		load_device_file(device, &d);
	else if (iface) {
		load_device_live(iface, &d);
		live = iface;
		next_refresh_ms = mono_ms() + (int64_t)refresh_s * 1000;
	}
	if (self_s) {
		if (elk_key_from_base64(self, self_s))
			elk_die(ELK_EXIT_USAGE, "--self: not a public key (want 44 characters of "
				"base64)");
		have_self = true;
	} else if (d.flags & ELK_DEV_PRIVATE_KEY) {
		memcpy(self, d.public_key, ELK_KEY_LEN);
		have_self = true;
	}
	run(&policy, &d, have_self ? self : NULL, peers);
	elk_device_clear(&d);
	elk_trust_policy_clear(&policy);
	return worst;
}
