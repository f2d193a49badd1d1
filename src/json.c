/*
 * A bounded JSON reader for lines another program wrote: the stream
 * hook's answers (hook_stream.c) and the items rostersync-ldap reads.
 * Neither side trusts the other, so the text is checked whole (RFC 8259:
 * one value, strict numbers and escapes, valid UTF-8, no NUL in a
 * string, no key twice in an object), nesting is at most JSON_MAX_DEPTH
 * deep and a value at most JSON_MAX_NODES nodes, and strings come out
 * decoded and NUL-terminated. Nodes and strings live in the caller's
 * arena.
 */
#include <string.h>

#include "rostersync.h"

struct jparse {
	const char	*p, *end;	/* what is left of the text */
	struct arena	*a;
	size_t		 nodes;
	char		*err;
	size_t		 errlen;
	const char	*start;
};

static struct jval *jvalue(struct jparse *, int depth);

static void *
jfail(struct jparse *j, const char *what)
{
	if (j->err[0] == '\0')
		snprintf(j->err, j->errlen, "%s at byte %zu", what,
		    (size_t)(j->p - j->start) + 1);
	return NULL;
}

static void
jspace(struct jparse *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
	    *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static struct jval *
jnew(struct jparse *j, enum jtype t)
{
	struct jval	*v;

	if (++j->nodes > JSON_MAX_NODES)
		return jfail(j, "too many values");
	v = arena_alloc(j->a, sizeof(*v));
	memset(v, 0, sizeof(*v));
	v->type = t;
	v->raw = j->p;
	return v;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Four hex digits after "\u"; -1 if not. */
static long
jhex4(struct jparse *j)
{
	long	 v = 0;
	int	 i, h;

	if (j->end - j->p < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		if ((h = hexval((unsigned char)j->p[i])) < 0)
			return -1;
		v = v * 16 + h;
	}
	j->p += 4;
	return v;
}

static void
put_utf8(struct buf *b, unsigned long c)
{
	if (c < 0x80)
		buf_addc(b, (int)c);
	else if (c < 0x800) {
		buf_addc(b, (int)(0xc0 | (c >> 6)));
		buf_addc(b, (int)(0x80 | (c & 0x3f)));
	} else if (c < 0x10000) {
		buf_addc(b, (int)(0xe0 | (c >> 12)));
		buf_addc(b, (int)(0x80 | ((c >> 6) & 0x3f)));
		buf_addc(b, (int)(0x80 | (c & 0x3f)));
	} else {
		buf_addc(b, (int)(0xf0 | (c >> 18)));
		buf_addc(b, (int)(0x80 | ((c >> 12) & 0x3f)));
		buf_addc(b, (int)(0x80 | ((c >> 6) & 0x3f)));
		buf_addc(b, (int)(0x80 | (c & 0x3f)));
	}
}

/* One escape after the backslash, appended to b decoded. */
static int
jescape(struct jparse *j, struct buf *b)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char	*k;
	long		 c, lo;

	if (j->p >= j->end)
		return -1;
	if (*j->p != 'u') {
		if (*j->p == '\0' || (k = strchr(from, *j->p)) == NULL)
			return -1;
		buf_addc(b, to[k - from]);
		j->p++;
		return 0;
	}
	j->p++;
	if ((c = jhex4(j)) < 0)
		return -1;
	if (c >= 0xdc00 && c <= 0xdfff)
		return -1;		/* a lone low surrogate */
	if (c >= 0xd800 && c <= 0xdbff) {
		if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u')
			return -1;
		j->p += 2;
		if ((lo = jhex4(j)) < 0xdc00 || lo > 0xdfff)
			return -1;
		c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
	}
	if (c == 0)
		return -1;		/* no NUL inside a C string */
	put_utf8(b, (unsigned long)c);
	return 0;
}

/* A string at the opening quote; decoded into the arena. */
static char *
jstring(struct jparse *j, size_t *len)
{
	struct buf	 b = { 0 };
	const char	*run;
	char		*s;

	j->p++;
	buf_add(&b, "", 0);
	for (;;) {
		for (run = j->p; j->p < j->end && *j->p != '"' &&
		    *j->p != '\\' && (unsigned char)*j->p >= 0x20; j->p++)
			;
		buf_add(&b, run, (size_t)(j->p - run));
		if (j->p >= j->end || (unsigned char)*j->p < 0x20)
			goto bad;
		if (*j->p == '"')
			break;
		j->p++;
		if (jescape(j, &b) == -1)
			goto bad;
	}
	j->p++;
	if (!utf8_valid(b.p, b.len)) {
		buf_free(&b);
		return jfail(j, "a string that is not UTF-8");
	}
	s = arena_strndup(j->a, b.p, b.len);
	*len = b.len;
	buf_free(&b);
	return s;
bad:
	buf_free(&b);
	return jfail(j, "a bad string");
}

static int
jdigits(struct jparse *j)
{
	const char	*s = j->p;

	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return j->p > s ? 0 : -1;
}

static int
jnumber(struct jparse *j)
{
	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p < j->end && *j->p == '0')
		j->p++;
	else if (jdigits(j) == -1)
		return -1;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (jdigits(j) == -1)
			return -1;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (jdigits(j) == -1)
			return -1;
	}
	return 0;
}

static int
jword(struct jparse *j, const char *w)
{
	size_t	 n = strlen(w);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
		return -1;
	j->p += n;
	return 0;
}

/* The members of an object or the elements of an array. */
static struct jval *
jlist(struct jparse *j, struct jval *v, int depth)
{
	struct jval	**tail = &v->child, *e;
	int		 obj = v->type == J_OBJ;
	char		 close = obj ? '}' : ']';
	char		*key = NULL;
	size_t		 keylen = 0;

	j->p++;
	jspace(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		return v;
	}
	for (;;) {
		jspace(j);
		if (obj) {
			if (j->p >= j->end || *j->p != '"')
				return jfail(j, "a key expected");
			if ((key = jstring(j, &keylen)) == NULL)
				return NULL;
			if (json_get(v, key) != NULL)
				return jfail(j, "a key given twice");
			jspace(j);
			if (j->p >= j->end || *j->p++ != ':')
				return jfail(j, "':' expected");
		}
		if ((e = jvalue(j, depth + 1)) == NULL)
			return NULL;
		e->key = key;
		*tail = e;
		tail = &e->next;
		v->n++;
		jspace(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == close) {
			j->p++;
			return v;
		}
		return jfail(j, obj ? "',' or '}' expected" :
		    "',' or ']' expected");
	}
}

static struct jval *
jvalue(struct jparse *j, int depth)
{
	struct jval	*v;

	jspace(j);
	if (j->p >= j->end)
		return jfail(j, "a value expected");
	if (depth > JSON_MAX_DEPTH)
		return jfail(j, "nested too deep");
	switch (*j->p) {
	case '{':
	case '[':
		if ((v = jnew(j, *j->p == '{' ? J_OBJ : J_ARR)) == NULL ||
		    jlist(j, v, depth) == NULL)
			return NULL;
		break;
	case '"':
		if ((v = jnew(j, J_STR)) == NULL ||
		    (v->str = jstring(j, &v->len)) == NULL)
			return NULL;
		break;
	case 't':
	case 'f':
	case 'n':
		if ((v = jnew(j, *j->p == 't' ? J_TRUE : *j->p == 'f' ?
		    J_FALSE : J_NULL)) == NULL)
			return NULL;
		if (jword(j, v->type == J_TRUE ? "true" : v->type == J_FALSE ?
		    "false" : "null") == -1)
			return jfail(j, "a bad word");
		break;
	default:
		if ((v = jnew(j, J_NUM)) == NULL)
			return NULL;
		if (jnumber(j) == -1)
			return jfail(j, "a bad value");
		v->str = arena_strndup(j->a, v->raw, (size_t)(j->p - v->raw));
		v->len = (size_t)(j->p - v->raw);
		break;
	}
	v->rawlen = (size_t)(j->p - v->raw);
	return v;
}

/*
 * Parse the whole of s (n bytes) as one JSON value. Returns it (in a,
 * freed with the arena), or NULL with the cause in err.
 */
struct jval *
json_parse(const char *s, size_t n, struct arena *a, char *err,
    size_t errlen)
{
	struct jparse	 j;
	struct jval	*v;

	memset(&j, 0, sizeof(j));
	j.p = j.start = s;
	j.end = s + n;
	j.a = a;
	j.err = err;
	j.errlen = errlen;
	err[0] = '\0';
	if ((v = jvalue(&j, 1)) == NULL)
		return NULL;
	jspace(&j);
	if (j.p != j.end)
		return jfail(&j, "text after the value");
	return v;
}

/* The member key of an object, or NULL (also when o is not an object). */
const struct jval *
json_get(const struct jval *o, const char *key)
{
	const struct jval	*e;

	if (o == NULL || o->type != J_OBJ)
		return NULL;
	for (e = o->child; e != NULL; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

/* The string member key, or NULL when absent or not a string. */
const char *
json_get_str(const struct jval *o, const char *key)
{
	const struct jval	*v = json_get(o, key);

	return v != NULL && v->type == J_STR ? v->str : NULL;
}

/* A whole number in [min, max]: 0, or -1 when v is not one. */
int
json_int(const struct jval *v, long long min, long long max,
    long long *out)
{
	if (v == NULL || v->type != J_NUM)
		return -1;
	return parse_ll(v->str, min, max, out);
}
