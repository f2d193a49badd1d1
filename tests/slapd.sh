# A real OpenLDAP slapd for the LDAP tests and the bench, sourced after
# lib.sh as tests/sshd.sh is. Debian's slapd, never its system service
# nor its debconf database: a slapd.conf of its own (mdb backend, the
# core, cosine and inetorgperson schemas), its own database directory,
# 127.0.0.1 on a free port, and stopped at exit whatever happens. Every
# wait is bounded.
#
#   slapd_setup DIR   the config, database and password file in DIR; sets
#                     SLAPD_DIR, SLAPD_PORT, SLAPD_URI, SLAPD_SUFFIX,
#                     SLAPD_ADMIN, SLAPD_PWFILE (mode 0600), SLAPD_PEOPLE,
#                     SLAPD_GROUPS, SLAPD_DISABLED
#   slapd_start       start it, wait until it answers (0, or 1)
#   slapd_base        add the suffix and its three organizational units
#   slapd_stop        stop it (SIGTERM, then SIGKILL after 5 s)
#   lsearch ARGS...   ldapsearch as the admin, LDIF without wrapping
#
# SLAPD_SYNC=1 keeps slapd's fsync on each write (the default here is
# dbnosync: the tests measure nothing, and the disk is shared).
# SLAPD_LOGLEVEL=stats (when slapd_start runs) logs each operation and its
# result to $SLAPD_DIR/slapd.log (the default, 0, logs nothing).

SLAPD=${SLAPD:-/usr/sbin/slapd}
SLAPD_PID=

slapd_usable() {
	[ -x "$SLAPD" ] && command -v ldapsearch >/dev/null &&
	    command -v ldapadd >/dev/null && [ -f /etc/ldap/schema/core.schema ]
}

slapd_free_port() {
	"$PYTHON" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

slapd_setup() {
	SLAPD_DIR=$1
	rm -rf "$SLAPD_DIR/db"
	mkdir -p "$SLAPD_DIR/db"
	SLAPD_SUFFIX="dc=example,dc=org"
	SLAPD_ADMIN="cn=admin,$SLAPD_SUFFIX"
	SLAPD_PEOPLE="ou=people,$SLAPD_SUFFIX"
	SLAPD_GROUPS="ou=groups,$SLAPD_SUFFIX"
	SLAPD_DISABLED="ou=disabled,$SLAPD_SUFFIX"
	SLAPD_PWFILE=$SLAPD_DIR/admin.pw
	(umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=\n' \
	    >"$SLAPD_PWFILE")
	SLAPD_PORT=$(slapd_free_port)
	SLAPD_URI=ldap://127.0.0.1:$SLAPD_PORT
	cat >"$SLAPD_DIR/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $SLAPD_DIR/slapd.pid
argsfile $SLAPD_DIR/slapd.args
loglevel none
sizelimit unlimited
database mdb
suffix "$SLAPD_SUFFIX"
rootdn "$SLAPD_ADMIN"
rootpw $(cat "$SLAPD_PWFILE")
directory $SLAPD_DIR/db
maxsize 17179869184
index objectClass eq
index uid eq
index member eq
$([ "${SLAPD_SYNC:-0}" = 1 ] || echo dbnosync)
EOF
	chmod 0600 "$SLAPD_DIR/slapd.conf"
	trap 'slapd_stop' EXIT
}

slapd_answers() {
	ldapsearch -x -LLL -H "$SLAPD_URI" -o nettimeout=2 -s base -b "" \
	    "(objectClass=*)" 1.1 >/dev/null 2>&1
}

slapd_start() {
	local n tries
	for tries in 1 2 3; do
		"$SLAPD" -d "${SLAPD_LOGLEVEL:-0}" -f "$SLAPD_DIR/slapd.conf" \
		    -h "$SLAPD_URI/" \
		    >>"$SLAPD_DIR/slapd.log" 2>&1 &
		SLAPD_PID=$!
		disown "$SLAPD_PID"
		for n in $(seq 1 100); do	# 10 seconds at most
			kill -0 "$SLAPD_PID" 2>/dev/null || break
			slapd_answers && return 0
			sleep 0.1
		done
		slapd_stop
		if grep -q "Address already in use" "$SLAPD_DIR/slapd.log"; then
			SLAPD_PORT=$(slapd_free_port)	# taken meanwhile
			SLAPD_URI=ldap://127.0.0.1:$SLAPD_PORT
			continue
		fi
		break
	done
	echo "# slapd did not start; its log:" >&2
	tail -20 "$SLAPD_DIR/slapd.log" | sed 's/^/# /' >&2
	return 1
}

slapd_stop() {
	local n
	[ -n "$SLAPD_PID" ] || return 0
	kill -TERM "$SLAPD_PID" 2>/dev/null
	for n in $(seq 1 50); do
		kill -0 "$SLAPD_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$SLAPD_PID" 2>/dev/null
	SLAPD_PID=
	return 0
}

slapd_base() {
	ldapadd -x -H "$SLAPD_URI" -D "$SLAPD_ADMIN" -y "$SLAPD_PWFILE" \
	    >/dev/null <<EOF
dn: $SLAPD_SUFFIX
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: $SLAPD_PEOPLE
objectClass: organizationalUnit
ou: people

dn: $SLAPD_GROUPS
objectClass: organizationalUnit
ou: groups

dn: $SLAPD_DISABLED
objectClass: organizationalUnit
ou: disabled
EOF
}

lsearch() {
	ldapsearch -x -LLL -o ldif_wrap=no -H "$SLAPD_URI" -D "$SLAPD_ADMIN" \
	    -y "$SLAPD_PWFILE" "$@"
}
