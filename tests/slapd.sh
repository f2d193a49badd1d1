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
#   slapd_tls [SAN]   (after slapd_setup) TLS too: a throw-away CA and a
#                     server certificate it signs for SAN (default
#                     IP:127.0.0.1,DNS:localhost), in $SLAPD_DIR/tls;
#                     slapd takes StartTLS on SLAPD_URI and listens on
#                     ldaps:// on a second free port; sets SLAPD_CA (the
#                     CA's certificate), SLAPD_LDAPS_PORT, SLAPD_LDAPS_URI
#   slapd_ca DIR NAME a throw-away CA: DIR/NAME.pem and its key NAME.key
#   slapd_start       start it, wait until it answers (0, or 1)
#   slapd_base        add the suffix and its three organizational units
#   slapd_stop        stop it (SIGTERM, then SIGKILL after 5 s)
#   lsearch ARGS...   ldapsearch as the admin, LDIF without wrapping
#   ldap_sandbox NAME [ARGS] [PREFIX]  lib.sh's sandbox whose hook is the
#                     connector $LDAPC on $SANDBOX_URI (or SLAPD_URI)
#   tree_check WHAT [FIELD=ATTR]...  TAP: the tree under the three bases
#                     equals the directory of sync "hr" of the sandbox
#                     (lib.sh's SB and DB; tests/ldap_tree.py)
#   wipe_tree         everything under the three bases deleted
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
	SLAPD_LDAPS_URI=
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

# Keys are EC P-256 in PKCS#8 PEM without a passphrase: Debian's slapd is
# built with GnuTLS, which reads that (and the "EC PRIVATE KEY" and "RSA
# PRIVATE KEY" forms), not an encrypted key. slapd runs as the user of the
# tests, who owns the files (mode 0600 for the keys). No openssl.cnf is
# read: every extension is given here.
slapd_ca() {
	openssl req -x509 -config /dev/null -newkey ec \
	    -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
	    -subj "/CN=rostersync test CA $2" \
	    -addext "basicConstraints=critical,CA:TRUE" \
	    -addext "keyUsage=critical,keyCertSign,cRLSign" \
	    -keyout "$1/$2.key" -out "$1/$2.pem" >/dev/null 2>&1 &&
	    chmod 0600 "$1/$2.key"
}

slapd_tls() {
	local d=$SLAPD_DIR/tls
	rm -rf "$d"
	mkdir -p "$d"
	slapd_ca "$d" ca || return 1
	printf '%s\n' "subjectAltName=${1:-IP:127.0.0.1,DNS:localhost}" \
	    "basicConstraints=critical,CA:FALSE" \
	    "keyUsage=critical,digitalSignature" \
	    "extendedKeyUsage=serverAuth" >"$d/server.ext"
	openssl req -config /dev/null -newkey ec \
	    -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
	    -keyout "$d/server.key" -out "$d/server.csr" >/dev/null 2>&1 &&
	    openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" \
	    -CAkey "$d/ca.key" -set_serial 2 -days 30 \
	    -extfile "$d/server.ext" -out "$d/server.pem" >/dev/null 2>&1 ||
	    return 1
	chmod 0600 "$d/server.key"
	SLAPD_CA=$d/ca.pem
	SLAPD_LDAPS_PORT=$(slapd_free_port)
	SLAPD_LDAPS_URI=ldaps://127.0.0.1:$SLAPD_LDAPS_PORT
	sed -i -e '/^TLSC/d' -e "/^pidfile /i TLSCACertificateFile $d/ca.pem\\
TLSCertificateFile $d/server.pem\\
TLSCertificateKeyFile $d/server.key" "$SLAPD_DIR/slapd.conf"
}

slapd_answers() {
	ldapsearch -x -LLL -H "$SLAPD_URI" -o nettimeout=2 -s base -b "" \
	    "(objectClass=*)" 1.1 >/dev/null 2>&1
}

slapd_start() {
	local n tries
	for tries in 1 2 3; do
		"$SLAPD" -d "${SLAPD_LOGLEVEL:-0}" -f "$SLAPD_DIR/slapd.conf" \
		    -h "$SLAPD_URI/${SLAPD_LDAPS_URI:+ $SLAPD_LDAPS_URI/}" \
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
			[ -z "$SLAPD_LDAPS_URI" ] || {
				SLAPD_LDAPS_PORT=$(slapd_free_port)
				SLAPD_LDAPS_URI=ldaps://127.0.0.1:$SLAPD_LDAPS_PORT
			}
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

# ldap_sandbox NAME [EXTRA-ARGS] [PROGRAM-PREFIX]: a sync whose hook is the
# connector ($LDAPC) in stream mode on $SANDBOX_URI (default $SLAPD_URI);
# extra args are JSON-ish list items; a prefix runs it under that program
# (tests/kill_after.py).
ldap_sandbox() {
	local args="\"--uri\", \"${SANDBOX_URI:-$SLAPD_URI}\", \"--bind-dn\", \"$SLAPD_ADMIN\", \"--password-file\", \"${PW:-$TMP/pw}\", \"--base\", \"$SLAPD_PEOPLE\", \"--groups-base\", \"$SLAPD_GROUPS\"${2:+, $2}"
	local path=$LDAPC
	if [ -n "${3:-}" ]; then
		args="$3, \"$LDAPC\", $args"
		path=$TOP/tests/kill_after.py
	fi
	sandbox "$1" "hook = { path = \"$path\"; args = [ $args ]; mode = \"stream\"; window = 32; timeout = 30; };"
}

# The three bases as LDIF, and the comparison with the directory.
tree_ok() {
	local d=$SB/ldif
	mkdir -p "$d"
	lsearch -s one -b "$SLAPD_PEOPLE" >"$d/people" &&
	    lsearch -s one -b "$SLAPD_GROUPS" >"$d/groups" &&
	    lsearch -s one -b "$SLAPD_DISABLED" >"$d/disabled" &&
	    "$PYTHON" "$TOP/tests/ldap_tree.py" "$DB" hr "$d/people" \
	    "$d/groups" "$d/disabled" "$@" >"$d/diff" 2>&1
}
tree_check() {	# tree_check DESCRIPTION [FIELD=ATTR]...
	local what=$1; shift
	if tree_ok "$@"; then ok "$what"; else
		not_ok "$what" "$(cat "$SB/ldif/diff")"; fi
}
wipe_tree() {	# everything under the three bases goes
	local b
	for b in "$SLAPD_PEOPLE" "$SLAPD_GROUPS" "$SLAPD_DISABLED"; do
		lsearch -s one -b "$b" 1.1 | sed -n 's/^dn: //p' |
		    ldapdelete -x -H "$SLAPD_URI" -D "$SLAPD_ADMIN" \
		    -y "$SLAPD_PWFILE" -c >/dev/null 2>&1
	done
}
