#!/usr/bin/python3
"""LDIF for the LDAP bench case (bench/run.sh), from rostersync's database.

usage: ldap_ldif.py tree DB PEOPLE GROUPS            > day1.ldif
       ldap_ldif.py changes DB RUN BEFORE PEOPLE GROUPS DISABLED > changes.ldif

tree: the active users of sync "hr" as inetOrgPerson entries and their
teams as groupOfNames, mapped as rostersync-ldap maps them by default (for
slapadd: the entries only, the bases come first).
changes: the items of RUN, in order (BEFORE: the database as it was before
RUN, whose users and teams the tree held), as the change records ldapmodify
applies one at a time: what rostersync-ldap does for the same items, each
as one operation, knowing the groups' members (so no search, no retry):
the peer of the bench.
"""
import base64
import json
import sqlite3
import sys

MAP = [("employee_id", "uid"), ("email", "mail"),
       ("first_name", "givenName"), ("last_name", "sn"),
       ("display_name", "displayName"), ("display_name", "cn"),
       ("title", "title"), ("department", "departmentNumber"),
       ("location", "l"), ("employment_status", "employeeType")]


def esc(v):
    """An RDN value escaped as RFC 4514 says."""
    out = "".join("\\" + c if c in ',+"\\<>;=' else c for c in v)
    if out.startswith((" ", "#")):
        out = "\\" + out
    if out.endswith(" ") and not out.endswith("\\ "):
        out = out[:-1] + "\\ "
    return out


def line(attr, v):
    safe = v and v.isascii() and v.isprintable() and \
        not v.startswith((" ", ":", "<")) and not v.endswith(" ")
    if safe:
        return "%s: %s\n" % (attr, v)
    return "%s:: %s\n" % (attr, base64.b64encode(v.encode()).decode())


def person(key, people):
    return "uid=%s,%s" % (esc(key), people)


def attrs(f, name, key, people):
    out = []
    for field, a in MAP:
        if f.get(field):
            out.append((a, f[field]))
    if not f.get("display_name"):
        out.append(("cn", name or key))
    if f.get("manager_id"):
        out.append(("manager", person(f["manager_id"], people)))
    return out


def tree(db, people, groups):
    con = sqlite3.connect(db)
    teams = {}
    w = sys.stdout.write
    for key, f, name, team in con.execute(
            "SELECT key, fields, name, team FROM users WHERE sync = 'hr' "
            "AND active = 1 ORDER BY key"):
        f = json.loads(f)
        dn = person(key, people)
        w(line("dn", dn))
        for oc in ("top", "person", "organizationalPerson", "inetOrgPerson"):
            w("objectClass: %s\n" % oc)
        for a, v in attrs(f, name, key, people):
            w(line(a, v))
        w("\n")
        if team:
            teams.setdefault(team, []).append(dn)
    for t, members in sorted(teams.items()):
        w(line("dn", "cn=%s,%s" % (esc(t), groups)))
        w("objectClass: groupOfNames\n")
        w(line("cn", t))
        for m in members:
            w(line("member", m))
        w("\n")


def changes(db, run, before, people, groups, disabled):
    con = sqlite3.connect(db)
    w = sys.stdout.write
    size = {}       # members per group, as the tree holds them
    team_of = {}
    for key, team in sqlite3.connect(before).execute(
            "SELECT key, team FROM users WHERE sync = 'hr' AND active = 1"):
        team_of[key] = team
        if team:
            size[team] = size.get(team, 0) + 1

    def gdn(t):
        return "cn=%s,%s" % (esc(t), groups)

    def join(t, dn):
        w(line("dn", gdn(t)) + "changetype: modify\nadd: member\n" +
          line("member", dn))
        if size.get(t, 0) == 0:
            w("-\ndelete: member\nmember:\n")
        w("\n")
        size[t] = size.get(t, 0) + 1

    def leave(t, dn):
        w(line("dn", gdn(t)) + "changetype: modify\n")
        if size.get(t, 0) == 1:
            w("add: member\nmember:\n-\n")
        w("delete: member\n" + line("member", dn) + "\n")
        size[t] = size.get(t, 0) - 1

    for typ, key, team, p in con.execute(
            "SELECT type, ifnull(key, ''), ifnull(team, ''), payload FROM "
            "items WHERE run_id = ? ORDER BY seq", (run,)):
        p = json.loads(p)
        dn = person(key, people) if key else None
        if typ == "team_create":
            w(line("dn", gdn(team)) + "changetype: add\n"
              "objectClass: groupOfNames\n" + line("cn", team) +
              "member:\n\n")
            size[team] = 0
        elif typ == "team_delete":
            w(line("dn", gdn(team)) + "changetype: delete\n\n")
        elif typ == "create":
            f = p["fields"]
            w(line("dn", dn) + "changetype: add\n")
            for oc in ("top", "person", "organizationalPerson",
                       "inetOrgPerson"):
                w("objectClass: %s\n" % oc)
            for a, v in attrs(f, p.get("name"), key, people):
                w(line(a, v))
            w("\n")
            team_of[key] = f.get("department", "")
            if team_of[key]:
                join(team_of[key], dn)
        elif typ in ("update", "manager"):
            mods = []
            for c in p["changes"]:
                for field, a in MAP + [("manager_id", "manager")]:
                    if field != c["field"] or field == "employee_id":
                        continue
                    v = c["new"]
                    if field == "manager_id" and v:
                        v = person(v, people)
                    if not v and a == "cn":
                        v = p.get("name") or key
                    mods.append("replace: %s\n%s" % (a, line(a, v) if v
                                                     else ""))
            if mods:
                w(line("dn", dn) + "changetype: modify\n" +
                  "-\n".join(mods) + "\n")
        elif typ == "team_member":
            for c in p["changes"]:
                if c["field"] == "department":
                    if c["old"]:
                        leave(c["old"], dn)
                    if c["new"]:
                        join(c["new"], dn)
                    team_of[key] = c["new"]
        elif typ == "delete":
            if team_of.get(key):
                leave(team_of[key], dn)
            w(line("dn", dn) + "changetype: modrdn\n" +
              line("newrdn", "uid=" + esc(key)) + "deleteoldrdn: 1\n" +
              line("newsuperior", disabled) + "\n")


if sys.argv[1] == "tree":
    tree(*sys.argv[2:5])
else:
    changes(sys.argv[2], int(sys.argv[3]), *sys.argv[4:8])
