/* facts_cli.h - the command lines of `el-facts local` and `el-facts gossip`
 * (el-facts(1); behaviour in facts_local.h and facts_gossip.h). */
#ifndef ELK_FACTS_CLI_H
#define ELK_FACTS_CLI_H

/* argv[0] is the subcommand ("local" or "gossip"); returns the exit code
 * (or exits through elk_die on errors). */
int elk_facts_cli(int argc, char **argv);

#endif
