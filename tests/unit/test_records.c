/* JSON-lines reader and field access: line numbers, bounds, and the error
 * text that names the field. */
#include <errno.h>
#include <stdlib.h>

#include "records.h"
#include "t.h"

static FILE *mem(const char *s)
{
	return fmemopen((void *)s, strlen(s), "r");
}

static void reader(void)
{
	const char *in = "{\"type\":\"key\",\"x\":1}\n\n   \n{\"type\":\"peer\"}\r\nnot json\n"
			 "[1]\n{\"a\":1}\n{\"type\":3}\n{\"type\":\"a\",\"type\":\"b\"}\n{\"type\":\"last\"}";
	FILE *f = mem(in);
	struct elk_reader r;
	struct elk_err e;
	json_t *rec;
	const char *type;

	elk_reader_init(&r, f);
	T_EQ_INT(elk_read_record(&r, &rec, &type, &e), 1, "first record");
	T_EQ_STR(type, "key", "type");
	T_EQ_INT(r.lineno, 1, "line of first");
	json_decref(rec);
	{
		char *out = NULL;
		size_t olen = 0;
		FILE *o = open_memstream(&out, &olen);

		T_EQ_INT(elk_pass_through(o, &r), 0, "pass through");
		fclose(o);
		T_EQ_STR(out, "{\"type\":\"key\",\"x\":1}\n", "passed through byte for byte");
		free(out);
	}
	T_EQ_INT(elk_read_record(&r, &rec, &type, &e), 1, "blank lines skipped, CR stripped");
	T_EQ_STR(type, "peer", "type");
	T_EQ_INT(r.lineno, 4, "line counts blank lines");
	json_decref(rec);
	T_CHECK(elk_read_record(&r, &rec, &type, &e) < 0 && strstr(e.msg, "not JSON"),
		"not JSON: %s", e.msg);
	T_EQ_INT(r.lineno, 5, "line of bad JSON");
	T_CHECK(elk_read_record(&r, &rec, &type, &e) < 0 && strstr(e.msg, "not a JSON object"),
		"array: %s", e.msg);
	T_CHECK(elk_read_record(&r, &rec, &type, &e) < 0 && !strcmp(e.msg, "type: missing"),
		"no type: %s", e.msg);
	T_CHECK(elk_read_record(&r, &rec, &type, &e) < 0 && strstr(e.msg, "type: must be"),
		"numeric type: %s", e.msg);
	T_CHECK(elk_read_record(&r, &rec, &type, &e) < 0, "duplicate key rejected");
	T_EQ_INT(elk_read_record(&r, &rec, &type, &e), 1, "last line without newline");
	T_EQ_STR(type, "last", "type");
	json_decref(rec);
	T_EQ_INT(r.lineno, 10, "line of last");
	T_EQ_INT(elk_read_record(&r, &rec, &type, &e), 0, "end");
	elk_reader_free(&r);
	fclose(f);
}

static void overlong(void)
{
	size_t n = ELK_LINE_MAX + 10;
	char *in = malloc(n + 32);
	struct elk_reader r;
	struct elk_err e;
	json_t *rec;
	const char *type;
	FILE *f;

	memset(in, ' ', n);
	strcpy(in + n, "\n{\"type\":\"after\"}\n");
	f = mem(in);
	elk_reader_init(&r, f);
	T_EQ_INT(elk_read_record(&r, &rec, &type, &e), -EMSGSIZE, "overlong line");
	T_CHECK(strstr(e.msg, "longer than") != NULL, "message: %s", e.msg);
	T_EQ_INT(r.lineno, 1, "overlong line numbered");
	T_EQ_INT(elk_read_record(&r, &rec, &type, &e), 1, "reader resumes after it");
	T_EQ_INT(r.lineno, 2, "next line numbered");
	json_decref(rec);
	elk_reader_free(&r);
	fclose(f);
	free(in);
}

static void fields(void)
{
	struct elk_err e;
	json_t *rec;
	const char *type, *s;
	uint8_t k[32];
	long long x;
	bool b;
	const json_t *arr;
	const char *line = "{\"type\":\"t\",\"k\":\"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\","
			   "\"short\":\"abc\",\"n\":5,\"big\":70000,\"s\":\"x\",\"b\":true,"
			   "\"arr\":[\"a\",\"b\"],\"mixed\":[\"a\",1],\"nul\":null}";

	T_EQ_INT(elk_parse_record(line, strlen(line), &rec, &type, &e), 1, "parse");
	T_EQ_INT(elk_field_key(rec, "k", k, &e), 1, "key present");
	T_EQ_INT(elk_field_key(rec, "absent", k, &e), 0, "key absent");
	T_EQ_INT(elk_field_key(rec, "nul", k, &e), 0, "null is absent");
	T_EQ_INT(elk_field_key(rec, "short", k, &e), -EINVAL, "short key");
	T_CHECK(strncmp(e.msg, "short: ", 7) == 0 && !strstr(e.msg, "abc"),
		"names the field, never quotes key material: %s", e.msg);
	T_EQ_INT(elk_field_key(rec, "n", k, &e), -EINVAL, "number as key");
	T_EQ_INT(elk_field_int(rec, "n", 0, 10, &x, &e), 1, "int");
	T_EQ_INT(x, 5, "int value");
	T_EQ_INT(elk_field_int(rec, "big", 0, 65535, &x, &e), -EINVAL, "out of range");
	T_CHECK(strstr(e.msg, "big: 70000 is out of range") != NULL, "%s", e.msg);
	T_EQ_INT(elk_field_int(rec, "s", 0, 1, &x, &e), -EINVAL, "string as int");
	T_EQ_INT(elk_field_string(rec, "s", &s, &e), 1, "string");
	T_EQ_INT(elk_field_bool(rec, "b", &b, &e), 1, "bool");
	T_CHECK(b, "bool value");
	T_EQ_INT(elk_field_bool(rec, "n", &b, &e), -EINVAL, "int as bool");
	T_EQ_INT(elk_field_strings(rec, "arr", &arr, &e), 1, "strings");
	T_EQ_INT(json_array_size(arr), 2, "strings size");
	T_EQ_INT(elk_field_strings(rec, "mixed", &arr, &e), -EINVAL, "mixed array");
	T_CHECK(strstr(e.msg, "mixed[1]") != NULL, "names the element: %s", e.msg);
	json_decref(rec);
}

static void writer(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	json_t *rec = elk_record_new("peer");

	json_object_set_new(rec, "z", json_integer(1));
	json_object_set_new(rec, "a", json_string("x"));
	T_EQ_INT(elk_write_record(f, rec), 0, "write");
	fclose(f);
	T_EQ_STR(buf, "{\"type\":\"peer\",\"z\":1,\"a\":\"x\"}\n", "compact, insertion order");
	json_decref(rec);
	free(buf);
}

int main(void)
{
	reader();
	overlong();
	fields();
	writer();
	return T_DONE();
}
