/* keyfile.c - one private key from a stream (see keyfile.h). */
#include "keyfile.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

int elk_read_private_key(FILE *f, uint8_t key[ELK_KEY_LEN], struct elk_err *e)
{
	struct elk_reader rd;
	struct elk_err inner;
	char *line, *extra;
	size_t len, elen;
	int r;

	elk_reader_init(&rd, f);
	r = elk_read_line(&rd, &line, &len, &inner);
	if (r <= 0) {
		elk_reader_free(&rd);
		if (r == 0)
			return -ENODATA;
		return elk_errf(e, "line %lu: %s", rd.lineno, inner.msg);
	}
	if (line[strspn(line, " \t")] == '{') {
		json_t *rec;
		const char *type;

		if (elk_parse_record(line, len, &rec, &type, &inner) < 0) {
			r = elk_errf(e, "line %lu: %s", rd.lineno, inner.msg);
			goto out;
		}
		if (strcmp(type, "key")) {
			r = elk_errf(e, "line %lu: type: \"%.32s\" is not a key record", rd.lineno, type);
			json_decref(rec);
			goto out;
		}
		r = elk_field_key(rec, "private_key", key, &inner);
		json_decref(rec);
		if (r <= 0) {
			r = r < 0 ? elk_errf(e, "line %lu: %s", rd.lineno, inner.msg)
				  : elk_errf(e, "line %lu: private_key: missing", rd.lineno);
			goto out;
		}
	} else {
		while (len && (line[len - 1] == ' ' || line[len - 1] == '\t'))
			len--;
		if (elk_key_from_base64n(key, line, len)) {
			r = elk_errf(e, "line %lu: not a private key (want 44 characters of base64 "
				     "for 32 bytes, got %zu characters)", rd.lineno, len);
			goto out;
		}
	}
	r = elk_read_line(&rd, &extra, &elen, &inner);
	if (r != 0) {
		sodium_memzero(key, ELK_KEY_LEN);
		r = elk_errf(e, "line %lu: expected one private key, found more input", rd.lineno);
		goto out;
	}
out:
	elk_reader_free(&rd);
	return r;
}
