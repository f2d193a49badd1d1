/*
 * json.c, the reader of lines other programs write (the stream hook's
 * answers, rostersync-ldap's items): good values come out decoded, and
 * every kind of bad text is refused with a message, never read in part.
 */
#include <stdarg.h>
#include <string.h>

#include "rostersync.h"

static int	 ntest, nfail;

static void
ok(int cond, const char *fmt, ...)
{
	va_list	 ap;

	printf("%s %d - ", cond ? "ok" : "not ok", ++ntest);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	nfail += !cond;
}

static const struct jval *
parse(struct arena *a, const char *s, char *err, size_t errlen)
{
	return json_parse(s, strlen(s), a, err, errlen);
}

static void
refused(const char *what, const char *text, const char *msg)
{
	struct arena	 a = { 0 };
	char		 err[128];

	ok(parse(&a, text, err, sizeof(err)) == NULL &&
	    strstr(err, msg) != NULL, "refused: %s (%s)", what, err);
	arena_free(&a);
}

static void
good(void)
{
	struct arena		 a = { 0 };
	const struct jval	*v, *r, *c;
	char			 err[128];
	long long		 n;

	v = parse(&a, " {\"run\": 12, \"item\": 5, \"ok\": true, \"response\":"
	    " {\"dn\": \"uid=a\\\\2Cb,ou=p\", \"n\": [1, -2.5e3, null]},"
	    " \"error\": \"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\"\\n\"} ", err,
	    sizeof(err));
	ok(v != NULL && v->type == J_OBJ && v->n == 5, "an answer parses");
	ok(json_int(json_get(v, "run"), 1, 100, &n) == 0 && n == 12,
	    "run is 12");
	ok(json_get(v, "ok") != NULL && json_get(v, "ok")->type == J_TRUE,
	    "ok is true");
	r = json_get(v, "response");
	ok(r != NULL && r->rawlen > 0 && strncmp(r->raw, "{\"dn\"", 5) == 0 &&
	    r->raw[r->rawlen - 1] == '}', "response keeps its text");
	ok(json_get_str(r, "dn") != NULL &&
	    strcmp(json_get_str(r, "dn"), "uid=a\\2Cb,ou=p") == 0,
	    "escaped backslash decoded");
	c = json_get(r, "n");
	ok(c != NULL && c->type == J_ARR && c->n == 3 &&
	    c->child->next->type == J_NUM &&
	    strcmp(c->child->next->str, "-2.5e3") == 0, "numbers as written");
	ok(json_get_str(v, "error") != NULL && strcmp(json_get_str(v,
	    "error"), "caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\"\n") == 0,
	    "\\u escapes and surrogate pairs to UTF-8");
	ok(json_int(json_get(v, "item"), 6, 10, &n) == -1,
	    "json_int refuses a number out of range");
	ok(json_get_str(v, "missing") == NULL, "a missing key is NULL");
	arena_free(&a);
}

int
main(void)
{
	struct buf	 deep = { 0 };
	int		 i;

	good();
	refused("not JSON", "this is not an answer", "a bad word");
	refused("a bare word", "yes", "a bad value");
	refused("text after the value", "{} {}", "text after the value");
	refused("a key twice", "{\"item\": 1, \"item\": 2}", "a key given twice");
	refused("a raw control character", "\"a\tb\"", "a bad string");
	refused("a NUL escape", "\"a\\u0000b\"", "a bad string");
	refused("a lone surrogate", "\"\\udc00\"", "a bad string");
	refused("a bad escape", "\"\\x41\"", "a bad string");
	refused("invalid UTF-8", "\"\xc3\x28\"", "not UTF-8");
	refused("a leading zero", "01", "text after the value");
	refused("a bare minus", "-", "a bad value");
	refused("a trailing comma", "[1,]", "a bad value");
	refused("an unclosed object", "{\"a\": 1", "',' or '}' expected");
	refused("a bad word", "tru", "a bad word");
	refused("nothing", "", "a value expected");
	for (i = 0; i < JSON_MAX_DEPTH + 1; i++)
		buf_addc(&deep, '[');
	for (i = 0; i < JSON_MAX_DEPTH + 1; i++)
		buf_addc(&deep, ']');
	refused("nested too deep", deep.p, "nested too deep");
	deep.len -= 2;
	memmove(deep.p, deep.p + 1, deep.len);
	deep.p[deep.len] = '\0';
	{
		struct arena a = { 0 };
		char err[128];

		ok(parse(&a, deep.p, err, sizeof(err)) != NULL,
		    "nested exactly %d deep is fine", JSON_MAX_DEPTH);
		arena_free(&a);
	}
	buf_reset(&deep);
	buf_addc(&deep, '[');
	for (i = 0; i < JSON_MAX_NODES; i++)
		buf_adds(&deep, "0,");
	buf_adds(&deep, "0]");
	refused("too many values", deep.p, "too many values");
	buf_free(&deep);
	printf("1..%d\n", ntest);
	return nfail ? 1 : 0;
}
