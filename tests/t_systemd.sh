#!/bin/bash
# rostersync as a Debian system service: the units (systemd-analyze verify
# and security in a temporary root), the sysusers.d and tmpfiles.d snippets,
# make install/uninstall with DESTDIR, the man pages, the next scheduled sync
# against systemd-analyze calendar, and the roles with real users and groups.
. "$(dirname "$0")/lib.sh"

BUILD_DIR=$(dirname "$ROSTERSYNC")
CAL=$BUILD_DIR/test_calendar
have() { command -v "$1" >/dev/null 2>&1; }
# An empty string, or the lines that are not: for "no warnings" checks.
quiet() { local out; out=$("$@" 2>&1); [ -z "$out" ] || { printf '%s\n' "$out" | head -20 | sed 's/^/# /'; return 1; }; }
mode_of() { stat -c %a "$1" 2>/dev/null; }
silent() { "$@" >/dev/null 2>&1; }

# make -C TOP install/uninstall into a DESTDIR, without rebuilding the
# binary under test.
mk() {
	make -s -C "$TOP" BUILD="$BUILD_DIR" SANITIZE="${SANITIZE:-}" \
	    -o "$BUILD_DIR/rostersync" "$@" 2>&1
}

# ============================================================ make install
D=$TMP/dest
MKOUT=$(mk install DESTDIR="$D"); RC=$?
eq "install: make install DESTDIR exits 0" "$RC" 0
for f in usr/local/bin/rostersync:755 \
    usr/local/lib/systemd/system/rostersync.service:644 \
    usr/local/lib/systemd/system/rostersync.timer:644 \
    usr/local/lib/sysusers.d/rostersync.conf:644 \
    usr/local/lib/tmpfiles.d/rostersync.conf:644 \
    usr/local/share/man/man8/rostersync.8:644 \
    usr/local/share/man/man5/rostersync.conf.5:644 \
    usr/local/lib/rostersync/rostersync-ldap:755 \
    usr/local/share/man/man8/rostersync-ldap.8:644 \
    etc/rostersync:750 etc/rostersync/rostersync.conf:640; do
	eq "install: /${f%:*} mode ${f#*:}" "$(mode_of "$D/${f%:*}")" "${f#*:}"
done
check "install: the example config as it is" \
    cmp -s "$TOP/etc/rostersync.conf" "$D/etc/rostersync/rostersync.conf"
check "install: no .dist when there was no config" \
    test ! -e "$D/etc/rostersync/rostersync.conf.dist"
eq "install: ExecStart= names the installed binary" \
    "$(grep '^ExecStart=' "$D/usr/local/lib/systemd/system/rostersync.service")" \
    "ExecStart=/usr/local/bin/rostersync -c /etc/rostersync/rostersync.conf run"
OUT=$("$D/usr/local/bin/rostersync" -c "$D/etc/rostersync/rostersync.conf" \
    check-config 2>&1); RC=$?
eq "install: the installed binary accepts the installed config" "$RC" 0
contains "install: check-config lists the example's syncs" "$OUT" "ok, 2 syncs"

echo "# changed by the admin" >>"$D/etc/rostersync/rostersync.conf"
MKOUT=$(mk install DESTDIR="$D"); RC=$?
eq "reinstall: exits 0" "$RC" 0
check "reinstall: a changed config is kept" \
    grep -q "changed by the admin" "$D/etc/rostersync/rostersync.conf"
check "reinstall: the new example beside it, as .dist" \
    cmp -s "$TOP/etc/rostersync.conf" "$D/etc/rostersync/rostersync.conf.dist"
contains "reinstall: says so" "$MKOUT" "kept $D/etc/rostersync/rostersync.conf"

mkdir -p "$D/var/lib/rostersync" && touch "$D/var/lib/rostersync/rostersync.db"
MKOUT=$(mk uninstall DESTDIR="$D"); RC=$?
eq "uninstall: exits 0" "$RC" 0
eq "uninstall: every installed file is gone, but the changed config" \
    "$(cd "$D" && find . -type f | sort | xargs)" \
    "./etc/rostersync/rostersync.conf ./var/lib/rostersync/rostersync.db"
contains "uninstall: says the config was kept" "$MKOUT" "it was changed"
cp "$TOP/etc/rostersync.conf" "$D/etc/rostersync/rostersync.conf"
mk uninstall DESTDIR="$D" >/dev/null
check "uninstall: an unchanged config goes, and its directory" \
    test ! -e "$D/etc/rostersync"

D2=$TMP/dest-usr
mk install DESTDIR="$D2" PREFIX=/usr >/dev/null
eq "install PREFIX=/usr: ExecStart=/usr/bin/rostersync" \
    "$(grep -o '^ExecStart=[^ ]*' "$D2/usr/lib/systemd/system/rostersync.service")" \
    "ExecStart=/usr/bin/rostersync"

# ============================================== units: systemd-analyze
# The installed tree is the root, with the system's own units beside ours
# (verify follows Wants= and After= to them).
if ! have systemd-analyze; then
	skip "units: systemd-analyze is not installed (package systemd)"
else
	R=$TMP/root
	mk install DESTDIR="$R" >/dev/null
	mkdir -p "$R/usr/lib/systemd"
	cp -a /lib/systemd/system "$R/usr/lib/systemd/"
	check "units: systemd-analyze verify accepts both, with no message" \
	    quiet systemd-analyze verify --man=no --root="$R" \
	    rostersync.service rostersync.timer
	# The units as they are in the tree (ExecStart=/usr/bin/rostersync).
	R2=$TMP/root-src
	mkdir -p "$R2/usr/bin" "$R2/etc/systemd/system" "$R2/usr/lib/systemd"
	cp -a /lib/systemd/system "$R2/usr/lib/systemd/"
	cp "$ROSTERSYNC" "$R2/usr/bin/rostersync"
	cp "$TOP"/systemd/rostersync.service "$TOP"/systemd/rostersync.timer \
	    "$R2/etc/systemd/system/"
	check "units: systemd/rostersync.service as written verifies" \
	    quiet systemd-analyze verify --man=no --root="$R2" \
	    rostersync.service rostersync.timer
	# The check can fail: the same unit naming a binary that is not there.
	rm "$R2/usr/bin/rostersync"
	OUT=$(systemd-analyze verify --man=no --root="$R2" rostersync.service \
	    2>&1); RC=$?
	check "units: verify fails when ExecStart= names no binary" \
	    test "$RC" -ne 0
	# Hardening: systemd's own score, 0 (best) to 10; 1.1 when written.
	OUT=$(systemd-analyze security --offline=yes --root="$R" \
	    rostersync.service 2>&1)
	check "units: systemd-analyze security rates the service OK (< 2.0)" \
	    silent systemd-analyze security --offline=yes --root="$R" \
	    --threshold=20 rostersync.service
	printf '%s\n' "$OUT" | grep 'Overall' | sed 's/^/# /'
	for k in ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
	    PrivateDevices=yes NoNewPrivileges=yes 'CapabilityBoundingSet=' \
	    'SystemCallFilter=@system-service' StateDirectory=rostersync \
	    UMask=0027 User=rostersync Type=oneshot \
	    'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX'; do
		check "units: the service sets $k" grep -qxF "$k" \
		    "$TOP/systemd/rostersync.service"
	done
	for k in 'OnCalendar=*:0/15' Persistent=true; do
		check "units: the timer sets $k" grep -qxF "$k" \
		    "$TOP/systemd/rostersync.timer"
	done
	check "units: a small RandomizedDelaySec" \
	    grep -qE '^RandomizedDelaySec=[0-9]{1,3}$' \
	    "$TOP/systemd/rostersync.timer"
fi
# Exit statuses the unit counts as success are EXIT_ATTENTION and EXIT_BUSY.
eq "units: SuccessExitStatus= is needs attention and busy" \
    "$(grep '^SuccessExitStatus=' "$TOP/systemd/rostersync.service")" \
    "SuccessExitStatus=$(awk '$2 == "EXIT_ATTENTION" || $2 == "EXIT_BUSY" \
    { printf "%s%s", s, $3; s = " " }' "$TOP/src/rostersync.h")"
eq "units: the timer's calendar is the default schedule" \
    "$(sed -n 's/^OnCalendar=//p' "$TOP/systemd/rostersync.timer")" \
    "$(sed -n 's/.*cfg->schedule = xstrdup("\(.*\)");/\1/p' \
    "$TOP/src/config.c")"

# ======================================= sysusers.d and tmpfiles.d snippets
if ! have systemd-sysusers || ! have systemd-tmpfiles; then
	skip "snippets: systemd-sysusers/systemd-tmpfiles are not installed"
else
	S=$TMP/snip
	mk install DESTDIR="$S" >/dev/null
	mkdir -p "$S/etc" && touch "$S/etc/passwd" "$S/etc/group"
	OUT=$(systemd-sysusers --root="$S" 2>&1); RC=$?
	eq "sysusers: creates the user and groups" "$RC" 0
	uid=$(awk -F: '$1 == "rostersync" { print $3 }' "$S/etc/passwd")
	gid=$(awk -F: '$1 == "rostersync-auditors" { print $3 }' "$S/etc/group")
	check "sysusers: a system user rostersync" test -n "$uid"
	check "sysusers: group rostersync-admins" \
	    grep -q '^rostersync-admins:' "$S/etc/group"
	eq "sysusers: rostersync's group is rostersync-auditors" \
	    "$(awk -F: '$1 == "rostersync" { print $4 }' "$S/etc/passwd")" "$gid"
	eq "sysusers: its home is the state directory, no login" \
	    "$(awk -F: '$1 == "rostersync" { print $6 " " $7 }' "$S/etc/passwd")" \
	    "/var/lib/rostersync /usr/sbin/nologin"
	OUT=$(systemd-tmpfiles --root="$S" --create 2>&1); RC=$?
	eq "tmpfiles: creates the directories" "$RC" 0
	for d in var/lib/rostersync var/spool/rostersync \
	    var/spool/rostersync/incoming var/spool/rostersync/archive \
	    var/spool/rostersync/failed var/spool/rostersync/reports; do
		eq "tmpfiles: /$d is rostersync:rostersync-auditors 0750" \
		    "$(stat -c '%u:%g %a' "$S/$d" 2>&1)" "$uid:$gid 750"
	done
fi

# ================================================================ man pages
for m in rostersync.8 rostersync.conf.5; do
	if have groff; then
		check "man: $m renders with groff -mandoc -ww, no warning" \
		    quiet groff -mandoc -ww -z "$TOP/src/$m"
	else
		skip "man: groff is not installed (package groff-base)"
	fi
	if have mandoc; then
		check "man: $m passes mandoc -T lint -W warning" \
		    quiet mandoc -T lint -W warning "$TOP/src/$m"
	else
		skip "man: mandoc is not installed (package mandoc)"
	fi
done
# Every command of the command table, and every setting config.c knows, is
# in the pages.
cmds=$(sed -n 's/^\t{ "\([a-z-]*\)", cmd_.*/\1/p' "$TOP/src/main.c")
missing=""
for c in $cmds version help; do
	grep -qE "^\.(It|It Xo)?.*Cm $c( |$)|^\.Cm $c( |$)" "$TOP/src/rostersync.8" ||
	    missing="$missing $c"
done
eq "man: rostersync(8) documents every command" "$missing" ""
settings=$(sed -n '/_names\[\] = {/,/};/p' "$TOP/src/config.c" |
    grep -o '"[a-z_]*"' | tr -d '"' | sort -u)
missing=""
for s in $settings; do
	grep -q "^\.It Ic $s " "$TOP/src/rostersync.conf.5" || missing="$missing $s"
done
eq "man: rostersync.conf(5) documents every setting" "$missing" ""
check "man: rostersync(8) documents the groups" \
    grep -q 'rostersync-auditors' "$TOP/src/rostersync.8"

# ==================================================== next scheduled sync
# calendar_next against systemd-analyze calendar, both in UTC, from a fixed
# time (Thu 2026-01-01 00:07:00) and from now; then in Europe/Berlin across
# both clock changes of 2026. Elapses are compared as systemd prints them,
# "2026-10-25 02:30:00 CEST", so a wall time that happens twice is told
# apart.
# sd_elapses TZ EXPR BASE N: systemd's N elapses after BASE (epoch seconds).
sd_elapses() {
	TZ=$1 systemd-analyze calendar --iterations="$4" --base-time="@$3" \
	    "$2" 2>/dev/null | sed -n 's/^ *\(Next elapse\|Iter\. #[0-9]*\): //p' |
	    while read -r _ d t z; do echo "$d $t $z"; done | xargs
}
# my_elapses TZ EXPR BASE N: the same from calendar_next.
my_elapses() {
	TZ=$1 "$CAL" --next "$2" "$3" "$4" 2>&1 |
	    while read -r t; do TZ=$1 date -d "@$t" '+%F %T %Z'; done | xargs
}
if [ ! -x "$CAL" ]; then
	skip "calendar: $CAL is not built (make $CAL)"
elif ! have systemd-analyze; then
	skip "calendar: systemd-analyze is not installed"
else
	now=$(date +%s)
	while IFS= read -r e; do
		for base in 1767226020 "$now"; do
			want=$(sd_elapses UTC "$e" "$base" 6)
			if [ -z "$want" ]; then
				not_ok "calendar: systemd-analyze takes \"$e\""
			else
				eq "calendar: \"$e\" from $base as systemd" \
				    "$(my_elapses UTC "$e" "$base" 6)" "$want"
			fi
		done
	done <<'EXPRS'
*:0/15
*:00/10
minutely
hourly
daily
weekly
monthly
*-*-* 06:00:00
Mon..Fri *-*-* 09:00
8,12,16:00
Sat,Sun 10:30
*-*-01 04:00
*-*-* 8..18/2:00
daily UTC
EXPRS
	# 2026-03-29 00:30 UTC, 2026-10-25 00:20 and 01:10 UTC (02:10 CET,
	# the second time that wall time comes).
	for base in 1774744200 1792887600 1792890600; do
		for e in '*:0/15' minutely hourly daily '02:30'; do
			eq "calendar: \"$e\" from $base in Europe/Berlin as systemd" \
			    "$(my_elapses Europe/Berlin "$e" "$base" 8)" \
			    "$(sd_elapses Europe/Berlin "$e" "$base" 8)"
		done
	done
	OUT=$("$CAL" --next '*-*-~01' 0 1 2>&1); RC=$?
	eq "calendar: an expression not supported fails" "$RC" 1
	contains "calendar: and says why" "$OUT" "not supported"
	sandbox nextsync 'enabled = true;'
	sed -i 's/^lock_wait = 5;/lock_wait = 5;\nschedule = "Mon..Fri 09:00";/' \
	    "$CONF"
	OUT=$("$CAL" --next-sync "$CONF" 2>&1); RC=$?
	eq "next sync: found" "$RC" 0
	if [ -d /run/systemd/system ]; then
		check "next sync: says where it comes from" \
		    grep -qE 'from systemd|computed from schedule' <<<"$OUT"
	else
		contains "next sync: without systemd, computed from the schedule" \
		    "$OUT" "(computed from schedule Mon..Fri 09:00)"
		check "next sync: a weekday at 09:00:00" \
		    grep -qE '^[0-9-]+ 09:00:00 ' <<<"$OUT"
	fi
fi

# ===================================================================== roles
# Real users in the real groups (the names are fixed), through runuser and
# setpriv. One test run at a time creates and removes them.
ROLES_OK=1
if [ "$(id -u)" != 0 ]; then
	skip "roles: needs root to create test users"; ROLES_OK=0
else
	for t in useradd userdel groupadd groupdel runuser setpriv flock; do
		have "$t" || { skip "roles: $t is not installed"; ROLES_OK=0; }
	done
fi
if [ "$ROLES_OK" = 1 ]; then
	exec 9>/tmp/rostersync-roles-test.lock
	flock -w 600 9
	made_groups="" users=""
	RT=$(mktemp -d /tmp/rostersync-roles.XXXXXX)
	cleanup() {
		local u g
		for u in $users; do userdel "$u" >/dev/null 2>&1; done
		for g in $made_groups; do groupdel "$g" >/dev/null 2>&1; done
		rm -rf "$RT"
	}
	trap cleanup EXIT
	for g in rostersync-admins rostersync-auditors; do
		getent group "$g" >/dev/null ||
		    { groupadd --system "$g" && made_groups="$made_groups $g"; }
	done
	ADM=rst-adm-$$ AUD=rst-aud-$$ OUT_U=rst-out-$$
	useradd --system --no-create-home -s /usr/sbin/nologin \
	    -G rostersync-admins "$ADM" && users="$users $ADM"
	useradd --system --no-create-home -s /usr/sbin/nologin \
	    -G rostersync-auditors "$AUD" && users="$users $AUD"
	useradd --system --no-create-home -s /usr/sbin/nologin "$OUT_U" &&
	    users="$users $OUT_U"
	check "roles: three test users" test "$(echo $users | wc -w)" = 3

	# A sandbox every test user may read and write (the roles, not the
	# file modes, are under test here), with a run waiting for approval.
	chmod 0755 "$RT"
	cp "$ROSTERSYNC" "$RT/rostersync" && chmod 0755 "$RT/rostersync"
	TMP=$RT sandbox sb 'approval = "always";'
	$GEN --rows 20 --seed 5 -o "$RT/day1.csv"
	$GEN --mutate "$RT/day1.csv" --seed 6 -o "$RT/day2.csv"
	EMAIL=$(sed -n '2s/^[^,]*,\([^,]*\),.*/\1/p' "$RT/day1.csv")
	drop "$RT/day1.csv"
	rs run >/dev/null 2>&1
	eq "roles: the first run waits for approval" "$(status_of 1)" \
	    pending_approval
	chmod -R a+rwX "$SB" && chmod 0644 "$CONF"
	as() { local u=$1; shift; runuser -u "$u" -- "$RT/rostersync" -c "$CONF" "$@"; }
	n_runs() { q "SELECT count(*) FROM runs"; }

	# The auditor reads, and changes nothing.
	OUT=$(as "$AUD" history 2>&1); RC=$?
	eq "roles: an auditor lists the history" "$RC" 0
	contains "roles: and sees the run" "$OUT" "Pending approval"
	OUT=$(as "$AUD" show 1 2>&1); RC=$?
	eq "roles: an auditor shows a run" "$RC" 0
	OUT=$(as "$AUD" report 1 --format csv -o - 2>&1); RC=$?
	eq "roles: an auditor reads a report" "$RC" 0
	contains "roles: the report holds the people" "$OUT" "$EMAIL"
	OUT=$(setpriv --reuid="$AUD" --regid="$AUD" --init-groups \
	    "$RT/rostersync" -c "$CONF" items 1 2>&1); RC=$?
	eq "roles: an auditor lists items (setpriv)" "$RC" 0
	drop "$RT/day2.csv"
	chmod -R a+rwX "$DROP"
	before=$(n_runs)
	OUT=$(as "$AUD" run 2>&1); RC=$?
	eq "roles: an auditor cannot run: exit 1" "$RC" 1
	contains "roles: a permission error" "$OUT" "permission denied"
	contains "roles: naming the auditors group" "$OUT" "rostersync-auditors"
	contains "roles: and the admins group" "$OUT" "rostersync-admins"
	eq "roles: nothing ran" "$(n_runs)" "$before"
	for c in approve reject cancel; do
		OUT=$(as "$AUD" "$c" 1 --reason no 2>&1); RC=$?
		eq "roles: an auditor cannot $c: exit 1" "$RC" 1
		contains "roles: $c: permission denied" "$OUT" "permission denied"
	done
	eq "roles: the run still waits" "$(status_of 1)" pending_approval

	# The outsider gets nothing but the error.
	for c in history "show 1" "report 1 --format csv -o -" "items 1" \
	    check-config run "approve 1"; do
		OUT=$(as "$OUT_U" $c 2>&1); RC=$?
		eq "roles: an outsider: $c: exit 1" "$RC" 1
		contains "roles: an outsider: $c: permission denied" "$OUT" \
		    "is in neither rostersync-admins nor rostersync-auditors"
		check "roles: an outsider: $c: no personal data" \
		    test -z "$(printf '%s' "$OUT" | grep -F -e "$EMAIL" -e '@example.com' -e 'Pending')"
	done
	OUT=$(as "$OUT_U" version 2>&1); RC=$?
	eq "roles: an outsider may still ask the version" "$RC" 0

	# The admin approves and runs.
	if "$RT/rostersync" help 2>&1 | grep -q '^  approve '; then
		OUT=$(as "$ADM" approve 1 --reason "checked with HR" 2>&1); RC=$?
		eq "roles: an admin approves" "$RC" 0
		eq "roles: the run is Approved" "$(status_of 1)" approved
		eq "roles: the approver is the admin" \
		    "$(q 'SELECT approver FROM runs WHERE id = 1')" "$ADM"
	else
		skip "roles: approve is not built into this rostersync yet"
	fi
	chmod -R a+rwX "$SB" && chmod 0644 "$CONF"
	OUT=$(as "$ADM" run 2>&1); RC=$?
	check "roles: an admin runs (exit $RC: not a permission error)" \
	    test "$RC" != 1 -a "$(n_runs)" -gt "$before"
	OUT=$(runuser -u "$ADM" -- "$RT/rostersync" version 2>&1)
	contains "roles: version for everyone" "$OUT" "rostersync "

	# Without the groups (a build tree), roles are not checked.
	if [ -n "$made_groups" ]; then
		for g in $made_groups; do groupdel "$g"; done
		made_groups=""
		if ! getent group rostersync-admins >/dev/null &&
		    ! getent group rostersync-auditors >/dev/null; then
			OUT=$(as "$OUT_U" history 2>&1); RC=$?
			eq "roles: without the groups, not checked" "$RC" 0
		fi
	fi
fi
finish
