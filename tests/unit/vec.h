/* vec.h - known-answer vector files for the unit tests: "[section]" lines,
 * then "key = hex" lines; tests look values up by section and key. Header
 * only (static functions), like t.h; include after t.h. */
#ifndef ELK_VEC_H
#define ELK_VEC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vec {
	char sect[48];
	char key[48];
	uint8_t *val;
	size_t len;
};

static struct vec *vecs;
static size_t nvecs;
static const char *vec_dir = "tests/vectors";

static int unhex(uint8_t *out, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned int b;

		if (sscanf(s + 2 * i, "%2x", &b) != 1)
			return -1;
		out[i] = (uint8_t)b;
	}
	return 0;
}

/* Returns false (after recording a failure) if the file is unreadable. */
static bool load_vectors(const char *name)
{
	char path[512], sect[48] = "", *line = NULL;
	size_t cap = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", vec_dir, name);
	f = fopen(path, "r");
	T_CHECK(f != NULL, "cannot open %s", path);
	if (!f)
		return false;
	while (getline(&line, &cap, f) > 0) {
		char key[48], hex[2048];
		struct vec *v;
		size_t n;

		line[strcspn(line, "\r\n")] = 0;
		if (line[0] == '#' || line[0] == 0)
			continue;
		if (line[0] == '[') {
			snprintf(sect, sizeof(sect), "%.*s", (int)strcspn(line + 1, "]"), line + 1);
			continue;
		}
		hex[0] = 0;
		if (sscanf(line, "%47s = %2047s", key, hex) < 1)
			continue;
		n = strlen(hex) / 2;
		vecs = realloc(vecs, (nvecs + 1) * sizeof(*vecs));
		v = &vecs[nvecs++];
		snprintf(v->sect, sizeof(v->sect), "%s", sect);
		snprintf(v->key, sizeof(v->key), "%s", key);
		v->val = malloc(n ? n : 1);
		v->len = n;
		T_CHECK(unhex(v->val, hex, n) == 0, "%s: bad hex in [%s] %s", name, sect, key);
	}
	free(line);
	fclose(f);
	return true;
}

/* A missing vector fails the test and yields zeros, so the run goes on. */
static const uint8_t *vget(const char *sect, const char *key, size_t *len)
{
	static uint8_t zeros[1024];
	size_t i;

	for (i = 0; i < nvecs; i++)
		if (!strcmp(vecs[i].sect, sect) && !strcmp(vecs[i].key, key)) {
			if (len)
				*len = vecs[i].len;
			return vecs[i].val;
		}
	T_CHECK(0, "missing vector [%s] %s", sect, key);
	if (len)
		*len = 0;
	return zeros;
}

/* Same, insisting on a length. */
static const uint8_t *vgetn(const char *sect, const char *key, size_t want)
{
	size_t len;
	const uint8_t *v = vget(sect, key, &len);

	T_CHECK(len == want, "[%s] %s: %zu bytes, want %zu", sect, key, len, want);
	return len == want ? v : vget("", "", NULL);
}

static void free_vectors(void)
{
	size_t i;

	for (i = 0; i < nvecs; i++)
		free(vecs[i].val);
	free(vecs);
}

#endif
