/* cli.c - command-line conventions shared by every edgelink command. */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *elk_prog = "edgelink";

void elk_set_prog(const char *argv0)
{
	const char *slash;

	if (!argv0 || !*argv0)
		return;
	slash = strrchr(argv0, '/');
	elk_prog = slash ? slash + 1 : argv0;
}

static void vmsg(const char *fmt, va_list ap, const char *suffix)
{
	/* One fprintf per message keeps lines whole when several tools of a
	 * pipeline share one stderr. */
	char buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	fprintf(stderr, "%s: %s%s%s\n", elk_prog, buf, suffix ? ": " : "",
		suffix ? suffix : "");
}

void elk_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap, NULL);
	va_end(ap);
}

void elk_die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap, NULL);
	va_end(ap);
	exit(code);
}

void elk_die_sys(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap, strerror(err));
	va_end(ap);
	exit(ELK_EXIT_SYS);
}

void elk_die_usage(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap, NULL);
	va_end(ap);
	fprintf(stderr, "Try '%s --help'.\n", elk_prog);
	exit(ELK_EXIT_USAGE);
}

void elk_std_opts(int argc, char **argv, const char *help)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			return;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(help, stdout);
			exit(fflush(stdout) ? ELK_EXIT_SYS : ELK_EXIT_OK);
		}
		if (!strcmp(argv[i], "--version")) {
			printf("%s (edgelink) %s\n", elk_prog, ELK_VERSION);
			exit(fflush(stdout) ? ELK_EXIT_SYS : ELK_EXIT_OK);
		}
	}
}

const char *elk_opt_env(const char *cli, const char *env)
{
	const char *v;

	if (cli)
		return cli;
	if (env && (v = getenv(env)) && *v)
		return v;
	return NULL;
}

unsigned elk_opt_seconds(const char *cli, const char *env, const char *name, unsigned dflt,
			 unsigned min, unsigned max)
{
	const char *s = elk_opt_env(cli, env);
	char *end;
	unsigned long v;

	if (!s)
		return dflt;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max)
		elk_die_usage("%s: \"%.32s\" is not a number of seconds in %u..%u", name, s, min,
			      max);
	return (unsigned)v;
}

double elk_opt_seconds_frac(const char *cli, const char *env, const char *name, double dflt,
			    double min, double max)
{
	const char *s = elk_opt_env(cli, env);
	char *end;
	double v;

	if (!s)
		return dflt;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= min && v <= max))
		elk_die_usage("%s: \"%.32s\" is not a number of seconds in %g..%g", name, s, min,
			      max);
	return v;
}
