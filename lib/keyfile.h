/* keyfile.h - reading one private key the way every command accepts it: a
 * bare base64 line as `wg genkey` prints it, or a `key` record (as
 * el-keygen prints it) with private_key; other fields are ignored. */
#ifndef ELK_KEYFILE_H
#define ELK_KEYFILE_H

#include <stdint.h>
#include <stdio.h>

#include "key.h"
#include "records.h"

/* 0 with key set; -ENODATA for empty input; -EINVAL with "line N: ..." in
 * e for anything else (never quoting key material). */
int elk_read_private_key(FILE *f, uint8_t key[ELK_KEY_LEN], struct elk_err *e);

#endif
