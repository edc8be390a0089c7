/* records.h - line-oriented JSON records, the contract between the tools.
 *
 * One JSON object per line, always with a string "type". Readers bound the
 * line length, count lines so that every error names one, reject duplicate
 * keys, and leave unknown fields alone. Writers print compact JSON with the
 * keys in the order they were added, so golden files diff cleanly. The JSON
 * itself is jansson's.
 *
 * Every jansson allocation is wiped before it is freed (see elk_init()),
 * because records carry private keys.
 */
#ifndef ELK_RECORDS_H
#define ELK_RECORDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "key.h"

#define ELK_LINE_MAX 65536

/* What went wrong, for the caller to put behind "line N: ". */
struct elk_err {
	char msg[512];
};
int elk_errf(struct elk_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

struct elk_reader {
	FILE *f;
	unsigned long lineno; /* of the line last returned */
	size_t max;
	char *buf;
	size_t len; /* of the line last returned */
};

/* Libsodium and the wiping allocator; call first thing in main(). */
void elk_init(const char *argv0);

void elk_reader_init(struct elk_reader *r, FILE *f);
void elk_reader_free(struct elk_reader *r);

/* Next line, without its newline, blank lines skipped. 1 and *line set, 0 at
 * end of input, -EMSGSIZE for an overlong line, -EIO for a read error, with
 * e filled. The line stays valid until the next call. */
int elk_read_line(struct elk_reader *r, char **line, size_t *len, struct elk_err *e);

/* Next record: 1 and *rec (a new reference) and *type set, 0 at end,
 * negative with e filled for input that is not a record. */
int elk_read_record(struct elk_reader *r, json_t **rec, const char **type, struct elk_err *e);
/* Parse one line as a record. On failure *rec and *type are NULL. */
int elk_parse_record(const char *line, size_t len, json_t **rec, const char **type,
		     struct elk_err *e);

/* Writes the line last read, byte for byte, and a newline: how a filter
 * passes on a record it does not handle, untouched. 0 or -EIO. */
int elk_pass_through(FILE *out, const struct elk_reader *r);

/* Prints rec and a newline; 0 or -EIO. */
int elk_write_record(FILE *out, const json_t *rec);

/* Field access. Each returns 1 when the field is present and valid, 0 when
 * it is absent (or null), and -EINVAL with "FIELD: why" in e otherwise. */
int elk_field_key(const json_t *rec, const char *field, uint8_t key[ELK_KEY_LEN],
		  struct elk_err *e);
int elk_field_string(const json_t *rec, const char *field, const char **out,
		     struct elk_err *e);
int elk_field_int(const json_t *rec, const char *field, long long min, long long max,
		  long long *out, struct elk_err *e);
int elk_field_bool(const json_t *rec, const char *field, bool *out, struct elk_err *e);
/* An array of strings; *arr is borrowed. */
int elk_field_strings(const json_t *rec, const char *field, const json_t **arr,
		      struct elk_err *e);

/* Sets field to the base64 of key. */
int elk_set_key(json_t *rec, const char *field, const uint8_t key[ELK_KEY_LEN]);
/* {"type": type} */
json_t *elk_record_new(const char *type);

#endif
