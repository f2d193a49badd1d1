#!/bin/bash
# rostersync-ldap over TLS against a real slapd with a throw-away CA
# (tests/slapd.sh, slapd_tls): a first day over ldaps:// and a first day
# and its next over StartTLS, each with --ca-file, leave the tree equal to
# the directory, and the password goes over TLS only (slapd's log of its
# connections); with a CA that did not sign the server's certificate,
# over either, every item fails saying why and nothing is written; a CA
# file missing or without a certificate is said at start; neither
# ~/.ldaprc, LDAPTLS_REQCERT nor LDAPTLS_CACERTDIR turns verification off
# or widens --ca-file; a certificate for another name is refused; and
# StartTLS refused by a server without TLS fails with nothing sent in
# clear.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/slapd.sh"

LDAPC=${LDAPC:-$(dirname "$ROSTERSYNC")/rostersync-ldap}
if ! slapd_usable || ! command -v openssl >/dev/null || [ ! -x "$LDAPC" ]
then
	skip "rostersync-ldap over TLS: needs slapd, ldap-utils, openssl and $LDAPC"
	finish
fi
slapd_setup "$TMP/slapd"
if ! slapd_tls || ! SLAPD_LOGLEVEL=stats slapd_start || ! slapd_base; then
	not_ok "slapd starts with TLS and takes the base entries"
	finish
fi
ok "slapd runs on $SLAPD_URI (StartTLS) and $SLAPD_LDAPS_URI"
cp "$SLAPD_PWFILE" "$TMP/pw"
chmod 0600 "$TMP/pw"
slapd_ca "$TMP" other	# a CA that did not sign the server's certificate
OTHER=$TMP/other.pem

# tls_sandbox NAME URI ARGS: ldap_sandbox on URI, with --disabled-base
# and ARGS (JSON-ish list items).
tls_sandbox() {
	SANDBOX_URI=$2 ldap_sandbox "$1" "\"--disabled-base\", \"$SLAPD_DISABLED\", $3"
}
people_count() { lsearch -s one -b "$SLAPD_PEOPLE" 1.1 | grep -c '^dn: '; }
# slapd's log of a run: emptied before it (slapd appends), kept after it
# (the checks below bind as the admin in clear themselves).
log_start() { : >"$SLAPD_DIR/slapd.log"; }
log_keep() { cp "$SLAPD_DIR/slapd.log" "$TMP/$1.log"; }
# The admin's binds in a kept log, and those on a connection where TLS
# was not established before them.
admin_binds() { grep -c "BIND dn=\"$SLAPD_ADMIN\" method=" "$TMP/$1.log"; }
binds_in_clear() {
	awk -v b="BIND dn=\"$SLAPD_ADMIN\" method=" '
	    / TLS established / { tls[$3] = 1 }
	    / fd=[0-9]+ closed/ { delete tls[$3] }
	    index($0, b) && !tls[$3] { n++ }
	    END { print n + 0 }' "$TMP/$1.log"
}
# connector ARGS...: the connector alone, one create on its input; its
# answer in $TMP/c.out, its standard error in $TMP/c.err.
connector() {
	echo '{"run":1,"item":1,"type":"create","employee_id":"C1","fields":{"employee_id":"C1","email":"c1@x.org","last_name":"One"}}' |
	    "$LDAPC" --bind-dn "$SLAPD_ADMIN" --password-file "$TMP/pw" \
	    --base "$SLAPD_PEOPLE" "$@" >"$TMP/c.out" 2>"$TMP/c.err"
}
answer_error() {
	"$PYTHON" -c 'import json, sys
a = json.load(open(sys.argv[1]))
print("applied" if a["ok"] else a["error"])' "$TMP/c.out" 2>&1
}
$GEN --rows 40 --seed 31 -o "$TMP/day1.csv"
$GEN --mutate "$TMP/day1.csv" --seed 32 --update-rate 0.2 --hire-rate 0.05 \
    --delete-rate 0.05 --manager-rate 0.1 -o "$TMP/day2.csv"

# --- a first day over ldaps://
tls_sandbox ldaps "$SLAPD_LDAPS_URI" "\"--ca-file\", \"$SLAPD_CA\""
drop "$TMP/day1.csv"
log_start
rs run >"$TMP/ldaps.out" 2>&1
eq "ldaps: exit 0" "$?" 0
log_keep ldaps
eq "ldaps: every item applied" "$(q "SELECT group_concat(DISTINCT status) FROM items WHERE run_id = 1")" applied
eq "ldaps: 40 people in the tree" "$(people_count)" 40
tree_check "ldaps: the LDAP tree equals the directory"
eq "ldaps: the connector bound once, over TLS (slapd's log)" "$(admin_binds ldaps):$(binds_in_clear ldaps)" 1:0

# --- a first day and its next over StartTLS
wipe_tree
SANDBOX_SETTINGS='max_update_percent = 100;' \
    tls_sandbox starttls "$SLAPD_URI" "\"--starttls\", \"--ca-file\", \"$SLAPD_CA\""
for day in 1 2; do
	drop "$TMP/day$day.csv"
	log_start
	rs run >"$TMP/starttls$day.out" 2>&1
	eq "StartTLS, day $day: exit 0" "$?" 0
	log_keep starttls$day
	r=$(last_run)
	eq "StartTLS, day $day: every item applied" "$(q "SELECT group_concat(DISTINCT status) FROM items WHERE run_id = $r")" applied
	tree_check "StartTLS, day $day: the LDAP tree equals the directory"
	eq "StartTLS, day $day: the connector bound once, over TLS (slapd's log)" "$(admin_binds starttls$day):$(binds_in_clear starttls$day)" 1:0
	eq "StartTLS, day $day: asked for once (slapd's log)" "$(grep -c ' STARTTLS$' "$TMP/starttls$day.log")" 1
done
check "StartTLS, day 2: it had several kinds of item" test "$(q "SELECT count(DISTINCT type) FROM items WHERE run_id = $r")" -ge 3

# --- a CA that did not sign the server's certificate: every item fails
# saying so, nothing is written, the password is not sent
wipe_tree
why="the server's TLS certificate is refused: unable to get local issuer certificate (CN=localhost, issued by CN=rostersync test CA ca; CAs trusted: $OTHER)"
for how in ldaps starttls; do
	if [ $how = ldaps ]; then
		tls_sandbox bad-$how "$SLAPD_LDAPS_URI" "\"--ca-file\", \"$OTHER\""
		want="the hook answered: $SLAPD_LDAPS_URI: connect: $why"
	else
		tls_sandbox bad-$how "$SLAPD_URI" "\"--starttls\", \"--ca-file\", \"$OTHER\""
		want="the hook answered: $SLAPD_URI: StartTLS: $why"
	fi
	drop "$TMP/day1.csv"
	log_start
	rs run >"$TMP/bad-$how.out" 2>&1
	eq "another CA, $how: Needs Attention" "$?" 6
	log_keep bad-$how
	eq "another CA, $how: every item failed" "$(q "SELECT count(*) FROM items WHERE run_id = 1 AND status = 'failed'")" "$(q "SELECT count(*) FROM items WHERE run_id = 1")"
	eq "another CA, $how: each says which certificate and why" "$(q "SELECT DISTINCT error FROM items WHERE run_id = 1")" "$want"
	eq "another CA, $how: nothing in the tree" "$(people_count)" 0
	eq "another CA, $how: the password was not sent" "$(admin_binds bad-$how)" 0
done

# --- a CA file missing, or without a certificate: said at start
"$LDAPC" --uri "$SLAPD_LDAPS_URI" --base "$SLAPD_PEOPLE" --ca-file \
    "$TMP/nope.pem" </dev/null >/dev/null 2>"$TMP/nope.err"
eq "a missing CA file: said at start" "$(cat "$TMP/nope.err")" "rostersync-ldap: cannot read the CA file $TMP/nope.pem: No such file or directory"
connector --uri "$SLAPD_LDAPS_URI" --ca-file "$TMP/nope.pem"
eq "a missing CA file: the item fails saying so" "$(answer_error)" "cannot read the CA file $TMP/nope.pem: No such file or directory"
echo "not a certificate" >"$TMP/junk.pem"
connector --uri "$SLAPD_LDAPS_URI" --ca-file "$TMP/junk.pem"
eq "a CA file without a certificate: the item fails saying so" "$(answer_error)" "the CA file $TMP/junk.pem holds no certificate (PEM: -----BEGIN CERTIFICATE-----)"
contains "a CA file without a certificate: said at start" "$(cat "$TMP/c.err")" "holds no certificate"
eq "a bad CA file: nothing in the tree" "$(people_count)" 0

# --- the certificate is verified whatever libldap's configuration says
mkdir -p "$TMP/home" "$TMP/cadir"
printf 'TLS_REQCERT never\n' >"$TMP/home/.ldaprc"
HOME=$TMP/home ldapsearch -x -LLL -H "$SLAPD_LDAPS_URI" -b "" -s base 1.1 \
    >/dev/null 2>&1
eq "that ~/.ldaprc lets ldapsearch take any certificate" "$?" 0
HOME=$TMP/home connector --uri "$SLAPD_LDAPS_URI" --ca-file "$OTHER"
eq "~/.ldaprc's TLS_REQCERT never: refused all the same" "$(answer_error)" "$SLAPD_LDAPS_URI: connect: $why"
LDAPTLS_REQCERT=never connector --uri "$SLAPD_URI" --starttls --ca-file "$OTHER"
eq "LDAPTLS_REQCERT=never: refused all the same" "$(answer_error)" "$SLAPD_URI: StartTLS: $why"
LDAPTLS_REQCERT=never LDAPTLS_CACERT=$OTHER connector --uri "$SLAPD_LDAPS_URI"
contains "LDAPTLS_REQCERT=never without --ca-file: refused all the same" "$(answer_error)" "unable to get local issuer certificate"
cp "$SLAPD_CA" "$TMP/cadir/"
LDAPTLS_CACERTDIR=$TMP/cadir connector --uri "$SLAPD_LDAPS_URI" --ca-file "$OTHER"
eq "--ca-file's CAs alone: LDAPTLS_CACERTDIR's are not added" "$(answer_error)" "$SLAPD_LDAPS_URI: connect: $why"
eq "nothing in the tree after them" "$(people_count)" 0
LDAPTLS_CACERT=$SLAPD_CA connector --uri "$SLAPD_LDAPS_URI"
eq "without --ca-file, ldap.conf's CAs (LDAPTLS_CACERT) are trusted" "$(answer_error)" applied

# --- TLS options that do not fit the URI
"$LDAPC" --uri "$SLAPD_LDAPS_URI" --starttls --base "$SLAPD_PEOPLE" \
    </dev/null >/dev/null 2>"$TMP/usage.err"
eq "--starttls with ldaps://: usage, exit 2" "$?" 2
contains "--starttls with ldaps://: why" "$(cat "$TMP/usage.err")" "--starttls is for an ldap:// URI"
"$LDAPC" --uri "$SLAPD_URI" --ca-file "$SLAPD_CA" --base "$SLAPD_PEOPLE" \
    </dev/null >/dev/null 2>"$TMP/usage.err"
eq "--ca-file without TLS: usage, exit 2" "$?" 2
contains "--ca-file without TLS: why" "$(cat "$TMP/usage.err")" "--ca-file wants TLS: an ldaps:// URI or --starttls"

# --- a certificate for another name: refused, though its CA is trusted
slapd_stop
if slapd_tls DNS:ldap.example.org && slapd_start; then
	connector --uri "$SLAPD_LDAPS_URI" --ca-file "$SLAPD_CA"
	eq "a certificate for another name: refused" "$(answer_error)" "$SLAPD_LDAPS_URI: connect: the server's TLS certificate is refused: IP address mismatch (CN=localhost, issued by CN=rostersync test CA ca; CAs trusted: $SLAPD_CA)"
else
	not_ok "slapd starts again with a certificate for another name"
fi

# --- StartTLS to a server without TLS: refused, nothing sent in clear
slapd_stop
slapd_setup "$TMP/slapd-plain"
if SLAPD_LOGLEVEL=stats slapd_start && slapd_base; then
	tls_sandbox refused "$SLAPD_URI" "\"--starttls\", \"--ca-file\", \"$SLAPD_CA\""
	drop "$TMP/day1.csv"
	log_start
	rs run >"$TMP/plain.out" 2>&1
	eq "StartTLS refused: Needs Attention" "$?" 6
	log_keep refused
	eq "StartTLS refused: every item failed saying why" "$(q "SELECT count(*), error FROM items WHERE run_id = 1 GROUP BY error")" "$(q "SELECT count(*) FROM items WHERE run_id = 1")|the hook answered: $SLAPD_URI: the server refused StartTLS, so nothing was sent in clear: Protocol error (2): unsupported extended operation"
	eq "StartTLS refused: the password was not sent" "$(admin_binds refused)" 0
	eq "StartTLS refused: nothing in the tree" "$(people_count)" 0
else
	not_ok "slapd starts without TLS"
fi
slapd_stop
finish
