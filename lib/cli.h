/* cli.h - what every edgelink command shares on its command line.
 *
 * Exit codes are the same in every tool (skarnet/djb convention):
 *   0 success, 1 a definite negative answer, 100 wrong usage or malformed
 *   input, 111 a system call or the environment failed.
 * Humans read stderr ("el-keygen: line 3: private_key: ..."); stdout carries
 * records only.
 */
#ifndef ELK_CLI_H
#define ELK_CLI_H

#include <stdarg.h>
#include <stdbool.h>

enum {
	ELK_EXIT_OK = 0,
	ELK_EXIT_NO = 1,
	ELK_EXIT_USAGE = 100,
	ELK_EXIT_SYS = 111,
};

#ifndef ELK_VERSION
#define ELK_VERSION "0.0.0"
#endif

/* Set once by main(); prefixes every message. */
extern const char *elk_prog;

void elk_set_prog(const char *argv0);

/* "prog: msg" on stderr. */
void elk_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "prog: msg" on stderr, then exit(code). */
_Noreturn void elk_die(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* "prog: msg: strerror(errno)" on stderr, then exit 111. */
_Noreturn void elk_die_sys(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
/* Usage error: "prog: msg", a pointer to --help, exit 100. */
_Noreturn void elk_die_usage(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* Handles -h/--help (prints help to stdout, exit 0) and --version. Returns
 * normally for every other argument. */
void elk_std_opts(int argc, char **argv, const char *help);

/* Option value: the command-line value if given, else the environment
 * variable env (may be NULL), else NULL. */
const char *elk_opt_env(const char *cli, const char *env);

/* A whole number of seconds from the command line or env, as elk_opt_env
 * finds it: dflt when neither is set; outside min..max or not a number,
 * dies with usage naming the option. */
unsigned elk_opt_seconds(const char *cli, const char *env, const char *name, unsigned dflt,
			 unsigned min, unsigned max);
/* The same with fractions allowed ("0.5"), for intervals and timeouts. */
double elk_opt_seconds_frac(const char *cli, const char *env, const char *name, double dflt,
			    double min, double max);

#endif
