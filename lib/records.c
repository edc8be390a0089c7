/* records.c - reading and writing JSON-lines records with jansson. */
#include "records.h"

#include <errno.h>
#include <malloc.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int elk_errf(struct elk_err *e, const char *fmt, ...)
{
	va_list ap;

	if (e) {
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static void *wipe_malloc(size_t n)
{
	return malloc(n);
}

static void wipe_free(void *p)
{
	/* jansson does not tell us the size; the allocator does. */
	if (p)
		sodium_memzero(p, malloc_usable_size(p));
	free(p);
}

void elk_init(const char *argv0)
{
	elk_set_prog(argv0);
	if (sodium_init() < 0)
		elk_die(ELK_EXIT_SYS, "libsodium failed to initialise");
	json_set_alloc_funcs(wipe_malloc, wipe_free);
}

void elk_reader_init(struct elk_reader *r, FILE *f)
{
	memset(r, 0, sizeof(*r));
	r->f = f;
	r->max = ELK_LINE_MAX;
}

void elk_reader_free(struct elk_reader *r)
{
	if (r->buf) {
		sodium_memzero(r->buf, r->max + 1);
		free(r->buf);
	}
	r->buf = NULL;
}

int elk_read_line(struct elk_reader *r, char **line, size_t *len, struct elk_err *e)
{
	if (!r->buf && !(r->buf = malloc(r->max + 1)))
		return elk_errf(e, "out of memory"), -ENOMEM;
	for (;;) {
		size_t n = 0;
		int c;

		while ((c = getc(r->f)) != EOF && c != '\n') {
			if (n == r->max) {
				/* Swallow the rest so a caller that goes on
				 * resumes at the next line. */
				while ((c = getc(r->f)) != EOF && c != '\n')
					;
				r->lineno++;
				elk_errf(e, "line longer than %zu bytes", r->max);
				return -EMSGSIZE;
			}
			r->buf[n++] = (char)c;
		}
		if (c == EOF && ferror(r->f)) {
			elk_errf(e, "read error: %s", strerror(errno));
			return -EIO;
		}
		if (c == EOF && n == 0)
			return 0;
		r->lineno++;
		if (n && r->buf[n - 1] == '\r')
			n--;
		r->buf[n] = 0;
		if (strspn(r->buf, " \t") == n)
			continue;
		*line = r->buf;
		*len = r->len = n;
		return 1;
	}
}

int elk_parse_record(const char *line, size_t len, json_t **rec, const char **type,
		     struct elk_err *e)
{
	json_error_t je;
	json_t *o, *t;

	/* Defined on failure too: callers may look before they check. */
	*rec = NULL;
	*type = NULL;
	o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (!o)
		return elk_errf(e, "not JSON: %s (column %d)", je.text, je.column);
	if (!json_is_object(o)) {
		json_decref(o);
		return elk_errf(e, "not a JSON object");
	}
	t = json_object_get(o, "type");
	if (!t) {
		json_decref(o);
		return elk_errf(e, "type: missing");
	}
	if (!json_is_string(t) || !*json_string_value(t)) {
		json_decref(o);
		return elk_errf(e, "type: must be a non-empty string");
	}
	*rec = o;
	*type = json_string_value(t);
	return 1;
}

int elk_read_record(struct elk_reader *r, json_t **rec, const char **type, struct elk_err *e)
{
	char *line;
	size_t len;
	int n = elk_read_line(r, &line, &len, e);

	if (n <= 0)
		return n;
	return elk_parse_record(line, len, rec, type, e);
}

int elk_pass_through(FILE *out, const struct elk_reader *r)
{
	if (!r->buf || fwrite(r->buf, 1, r->len, out) != r->len || fputc('\n', out) == EOF)
		return -EIO;
	return 0;
}

int elk_write_record(FILE *out, const json_t *rec)
{
	if (json_dumpf(rec, out, JSON_COMPACT) != 0 || fputc('\n', out) == EOF)
		return -EIO;
	return 0;
}

json_t *elk_record_new(const char *type)
{
	json_t *o = json_object();

	if (o)
		json_object_set_new(o, "type", json_string(type));
	return o;
}

int elk_set_key(json_t *rec, const char *field, const uint8_t key[ELK_KEY_LEN])
{
	char b64[ELK_KEY_B64_LEN + 1];
	int r;

	elk_key_to_base64(b64, key);
	r = json_object_set_new(rec, field, json_string(b64)) ? -ENOMEM : 0;
	sodium_memzero(b64, sizeof(b64));
	return r;
}

static const json_t *get(const json_t *rec, const char *field)
{
	const json_t *v = json_object_get(rec, field);

	return json_is_null(v) ? NULL : v;
}

int elk_field_string(const json_t *rec, const char *field, const char **out,
		     struct elk_err *e)
{
	const json_t *v = get(rec, field);

	if (!v)
		return 0;
	if (!json_is_string(v))
		return elk_errf(e, "%s: must be a string", field);
	*out = json_string_value(v);
	return 1;
}

int elk_field_key(const json_t *rec, const char *field, uint8_t key[ELK_KEY_LEN],
		  struct elk_err *e)
{
	const json_t *v = get(rec, field);

	if (!v)
		return 0;
	if (!json_is_string(v))
		return elk_errf(e, "%s: must be a base64 key string", field);
	/* Never quote the value: it may be a private key. */
	if (elk_key_from_base64n(key, json_string_value(v), json_string_length(v)))
		return elk_errf(e, "%s: not a key (want 44 characters of base64 for 32 bytes, "
				"got %zu characters)", field, json_string_length(v));
	return 1;
}

int elk_field_int(const json_t *rec, const char *field, long long min, long long max,
		  long long *out, struct elk_err *e)
{
	const json_t *v = get(rec, field);
	long long x;

	if (!v)
		return 0;
	if (!json_is_integer(v))
		return elk_errf(e, "%s: must be an integer", field);
	x = json_integer_value(v);
	if (x < min || x > max)
		return elk_errf(e, "%s: %lld is out of range %lld..%lld", field, x, min, max);
	*out = x;
	return 1;
}

int elk_field_bool(const json_t *rec, const char *field, bool *out, struct elk_err *e)
{
	const json_t *v = get(rec, field);

	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return elk_errf(e, "%s: must be true or false", field);
	*out = json_is_true(v);
	return 1;
}

int elk_field_strings(const json_t *rec, const char *field, const json_t **arr,
		      struct elk_err *e)
{
	const json_t *v = get(rec, field);
	size_t i;
	json_t *x;

	if (!v)
		return 0;
	if (!json_is_array(v))
		return elk_errf(e, "%s: must be an array of strings", field);
	json_array_foreach(v, i, x) {
		if (!json_is_string(x))
			return elk_errf(e, "%s[%zu]: must be a string", field, i);
	}
	*arr = v;
	return 1;
}
