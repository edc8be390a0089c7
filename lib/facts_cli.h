/* facts_cli.h - the command lines of `el-facts local` and `el-facts gossip`
 * (el-facts(1); behaviour in facts_local.h and facts_gossip.h). */
#ifndef ELK_FACTS_CLI_H
#define ELK_FACTS_CLI_H

/* argv[0] is the subcommand ("local" or "gossip"); returns the exit code
 * (or exits through elk_die on errors). */
int elk_facts_cli(int argc, char **argv);

/* Our private key as the options give it: --key-file FILE (env
 * EL_FACTS_KEY_FILE; a bare base64 line or a key record, as el-keygen
 * --out writes) or --key VALUE (env EL_FACTS_KEY); an option beats the
 * other's variable, and both options at once are a usage error. 1 with priv
 * set, 0 when none is given; dies with 100 (bad key) or 111 (unreadable
 * file), never quoting key material. */
int elk_facts_key_opt(const char *key, const char *key_file, uint8_t priv[32]);

#endif
