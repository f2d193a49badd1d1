#!/usr/bin/python3
"""Does an LDAP tree equal rostersync's directory?

usage: ldap_tree.py DB SYNC PEOPLE.ldif GROUPS.ldif DISABLED.ldif [FIELD=ATTR]...

The LDIF files are `ldapsearch -LLL -o ldif_wrap=no` of the people, groups
and disabled bases (one level). Checked, for the sync's users in the
database (rostersync's directory):
  * the entries under the people base are exactly the active users, each
    an inetOrgPerson with exactly the attributes the mapping gives (cn from
    the display name, else the name, else the key; manager as the
    manager's DN), nothing more, nothing less;
  * the entries under the disabled base are inactive users only;
  * the groups are exactly the teams of active users, each with exactly
    their members' DNs (the empty DN only in a group without members).
FIELD=ATTR arguments change the default mapping as rostersync-ldap's --map
does. Prints every difference (the first 20) and exits 1 when there is one.
"""
import base64
import json
import sqlite3
import sys

MAP = {
    "employee_id": ["uid"], "email": ["mail"], "first_name": ["givenName"],
    "last_name": ["sn"], "display_name": ["displayName", "cn"],
    "title": ["title"], "department": ["departmentNumber"],
    "location": ["l"], "employment_status": ["employeeType"],
    "manager_id": ["manager"],
}


def ldif(path):
    """Entries as {dn: {attr_lower: [values]}}."""
    out, cur, dn = {}, None, None
    for line in open(path, encoding="utf-8").read().split("\n"):
        if not line:
            cur = None
            continue
        if line.startswith("#"):
            continue
        attr, sep, val = line.partition(":")
        if val.startswith(":"):
            val = base64.b64decode(val[1:].strip()).decode("utf-8")
        else:
            val = val[1:] if val.startswith(" ") else val
        if cur is None:
            dn = val
            cur = out[dn] = {}
        else:
            cur.setdefault(attr.lower(), []).append(val)
    return out


def rdn_value(dn):
    """The value of a DN's first RDN, RFC 4514 escapes undone."""
    out, i = bytearray(), dn.index("=") + 1
    hexd = "0123456789abcdefABCDEF"
    while i < len(dn) and dn[i] not in ",+":
        if dn[i] == "\\":
            if dn[i + 1] in hexd and i + 2 < len(dn) and dn[i + 2] in hexd:
                out.append(int(dn[i + 1:i + 3], 16))
                i += 3
                continue
            i += 1
        out += dn[i].encode("utf-8")
        i += 1
    return out.decode("utf-8")


def main():
    db, sync, people, groups, disabled = sys.argv[1:6]
    mp = {k: list(v) for k, v in MAP.items()}
    given = set()
    for arg in sys.argv[6:]:
        f, a = arg.split("=", 1)
        if f not in given:
            mp[f] = []
            given.add(f)
        if a:
            mp[f].append(a)
    con = sqlite3.connect(db)
    users = {k: (a, json.loads(f), n, t) for k, a, f, n, t in con.execute(
        "SELECT key, active, fields, name, team FROM users WHERE sync = ?",
        (sync,))}
    bad = []
    got = {}
    for dn, e in ldif(people).items():
        uid = rdn_value(dn)
        got[uid] = e
        if uid not in users or not users[uid][0]:
            bad.append("%s is in the tree but not active in the directory" % dn)
    for key, (active, f, name, team) in users.items():
        if not active:
            continue
        if key not in got:
            bad.append("%s is active but not in the tree" % key)
            continue
        want = {}
        for field, attrs in mp.items():
            v = f.get(field, "")
            for a in attrs:
                if v:
                    want.setdefault(a.lower(), []).append(v)
        if "cn" not in want:
            want["cn"] = [name or key]
        have = {a: sorted(v) for a, v in got[key].items()
                if a != "objectclass"}
        if "inetOrgPerson" not in got[key].get("objectclass", []):
            bad.append("%s is not an inetOrgPerson" % key)
        if "manager" in have:
            have["manager"] = [rdn_value(d) for d in have["manager"]]
        want = {a: sorted(set(v)) for a, v in want.items()}
        if have != want:
            diff = {a: (have.get(a), want.get(a)) for a in set(have) | set(want)
                    if have.get(a) != want.get(a)}
            bad.append("%s: (tree, directory) differ: %s" % (key, diff))
    for dn in ldif(disabled):
        uid = rdn_value(dn)
        if uid not in users or users[uid][0]:
            bad.append("%s is disabled in the tree, not inactive in the "
                       "directory" % dn)
    teams = {}
    for key, (active, f, name, team) in users.items():
        if active and team:
            teams.setdefault(team, set()).add(key)
    seen = set()
    for dn, e in ldif(groups).items():
        t = rdn_value(dn)
        seen.add(t)
        members = set(rdn_value(m) for m in e.get("member", []) if m)
        if t not in teams:
            bad.append("group %s is not a team of the directory" % t)
        elif members != teams[t]:
            bad.append("group %s: members %d, team %d; only in the group %s,"
                       " only in the team %s" % (
                           t, len(members), len(teams[t]),
                           sorted(members - teams[t])[:5],
                           sorted(teams[t] - members)[:5]))
        if "" in e.get("member", []) and members:
            bad.append("group %s keeps the empty member beside others" % t)
    for t in set(teams) - seen:
        bad.append("team %s has no group" % t)
    if bad:
        print("\n".join(bad[:20]))
        print("(%d differences)" % len(bad))
        sys.exit(1)


main()
