/*
 * The work of one run that every stage after the load shares: the key
 * table (every key of the directory and of the export, struct ent), the
 * teams, and how a user's row reads (its display name, its fields as the
 * users table keeps them). diff.c fills it; validation, the key snapshot
 * and apply read and mark it. Below all of them: it calls none.
 */
#include <stdlib.h>
#include <string.h>

#include "known.h"

uint32_t
ent_get(struct job *j, const char *k, size_t n)
{
	return strmap_get(&j->keys, k, n);
}

/* Room for n more keys, and a little for the export's new ones. */
void
ent_reserve(struct job *j, size_t n)
{
	n += n / 16 + 1024;
	if (j->ne + n > j->ecap) {
		j->ecap = j->ne + n;
		j->e = big_realloc(j->e, j->ne * sizeof(*j->e),
		    j->ecap * sizeof(*j->e));
	}
	strmap_reserve(&j->keys, j->ne + n);
}

static int
cmp_ent_key(const void *a, const void *b, void *arg)
{
	const struct ent	*e = arg;

	return strcmp(e[*(const uint32_t *)a].key, e[*(const uint32_t *)b].key);
}

/*
 * Entry ids put in the order of their keys. Exports usually come in key
 * order already (a first load's million creates did): one pass finds
 * that, and the sort is left out.
 */
void
ids_by_key(const struct ent *e, uint32_t *ids, size_t n)
{
	size_t	 i;

	for (i = 1; i < n; i++)
		if (strcmp(e[ids[i - 1]].key, e[ids[i]].key) > 0)
			break;
	if (i < n)
		qsort_r(ids, n, sizeof(*ids), cmp_ent_key, (void *)e);
}

/* An entry of key k, nowhere yet (not in the key table either). */
void
ent_init(struct ent *e, const char *k, size_t n)
{
	memset(e, 0, sizeof(*e));
	e->key = k;
	e->keylen = (uint32_t)n;
	e->mgr = e->rec = e->team = ENT_NONE;
}

/* A key that outlives the job (the arena, or the snapshot's buffer). */
uint32_t
ent_add_stored(struct job *j, const char *k, size_t n)
{
	if (j->ne == j->ecap) {
		j->ecap = j->ecap ? j->ecap * 2 : 4096;
		j->e = big_realloc(j->e, j->ne * sizeof(*j->e),
		    j->ecap * sizeof(*j->e));
	}
	ent_init(&j->e[j->ne], k, n);
	strmap_put(&j->keys, k, n, (uint32_t)j->ne);
	return (uint32_t)j->ne++;
}

uint32_t
ent_add(struct job *j, const char *k, size_t n)
{
	return ent_add_stored(j, arena_strndup(&j->a, k, n), n);
}

uint32_t
team_intern(struct job *j, const char *name, size_t n)
{
	uint32_t	 t = strmap_get(&j->teams, name, n);

	if (t != STRMAP_NONE)
		return t;
	if (j->nteam == j->teamcap) {
		j->teamcap = j->teamcap ? j->teamcap * 2 : 64;
		j->team = xrealloc(j->team, j->teamcap * sizeof(*j->team));
		j->team_new = xrealloc(j->team_new,
		    j->teamcap * sizeof(*j->team_new));
		j->team_old = xrealloc(j->team_old,
		    j->teamcap * sizeof(*j->team_old));
		j->team_held = xrealloc(j->team_held,
		    j->teamcap * sizeof(*j->team_held));
	}
	t = (uint32_t)j->nteam++;
	j->team[t] = arena_strndup(&j->a, name, n);
	j->team_new[t] = j->team_old[t] = j->team_held[t] = 0;
	strmap_put(&j->teams, j->team[t], n, t);
	return t;
}

/* Each slot's name as a JSON key, with the comma before it: once a job. */
static void
fields_keys(struct job *j)
{
	size_t	 i;

	for (i = 0; i < j->sc.nslots; i++) {
		j->fkoff[i] = (uint32_t)j->fkeys.len;
		if (i > 0)
			buf_addc(&j->fkeys, ',');
		json_str(&j->fkeys, j->sc.slots[i].name,
		    strlen(j->sc.slots[i].name));
		buf_addc(&j->fkeys, ':');
	}
	j->fkoff[i] = (uint32_t)j->fkeys.len;
}

/* A user's fields as the users table keeps them: {"name":"value",...}. */
void
fields_json(struct job *j, const struct kept *k, struct buf *b)
{
	size_t	 i, need = 2;
	char	*o;

	if (j->fkeys.len == 0)
		fields_keys(j);
	need += j->fkeys.len;
	for (i = 0; i < j->sc.nslots; i++)
		need += 6 * (size_t)k->len[i] + 2;
	buf_reset(b);
	buf_grow(b, need);
	o = b->p;
	*o++ = '{';
	for (i = 0; i < j->sc.nslots; i++) {
		memcpy(o, j->fkeys.p + j->fkoff[i], j->fkoff[i + 1] -
		    j->fkoff[i]);
		o += j->fkoff[i + 1] - j->fkoff[i];
		o = json_put(o, k->v[i], k->len[i]);
	}
	*o++ = '}';
	*o = '\0';
	b->len = (size_t)(o - b->p);
}

const char *
ent_value(const struct job *j, uint32_t ent, int slot)
{
	uint32_t	 r = j->e[ent].rec;

	if (slot < 0 || r == ENT_NONE)
		return "";
	return j->kept[r].v[slot];
}

const char	 email_stored[] = "(the stored email)";


const char *
display_name(struct job *j, const char *const *v)
{
	int		 d = j->sc.canon[F_DISPLAY_NAME];
	int		 f = j->sc.canon[F_FIRST_NAME];
	int		 l = j->sc.canon[F_LAST_NAME];
	const char	*first = f >= 0 ? v[f] : "", *last = l >= 0 ? v[l] : "";
	char		*s;
	size_t		 nf = strlen(first), nl = strlen(last);

	if (d >= 0 && v[d][0] != '\0')
		return v[d];
	s = arena_alloc(&j->a, nf + nl + 2);
	memcpy(s, first, nf);
	s[nf] = nf && nl ? ' ' : '\0';
	memcpy(s + nf + (nf && nl), last, nl);
	s[nf + (nf && nl) + nl] = '\0';
	return s;
}

