# A real OpenSSH sshd for the SFTP tests, sourced by tests/t_sftp.sh after
# lib.sh. It listens on 127.0.0.1 on a free port with its own host key,
# lets root in with a generated client key only (internal-sftp, no shell
# needed), and is stopped at exit whatever happens. Every wait is bounded.
#
#   sshd_setup DIR    keys, authorized_keys and sshd_config in DIR; sets
#                     SSHD_DIR, SSHD_PORT, CLIENT_KEY, HOST_KEY, KNOWN_LINE
#   sshd_start        start it and wait until it answers (0, or 1)
#   sshd_stop         stop it and every session it started (SIGKILL: the
#                     server "crashes", connections drop at once)
#   sshd_pause / sshd_resume   freeze it (and its sessions) / thaw it
#   sshd_sessions     the pids of its sessions
#   sshd_kill_channel kill the server process of the newest SFTP channel
#                     (that channel closes; the connection stays)

SSHD=${SSHD:-/usr/sbin/sshd}
SSHD_PID=

sshd_usable() {
	[ -x "$SSHD" ] && command -v ssh-keygen >/dev/null &&
	    [ "$(id -u)" = 0 ]
}

# A port nobody listens on now (the kernel picks it).
sshd_free_port() {
	"$PYTHON" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

sshd_setup() {
	SSHD_DIR=$1
	mkdir -p "$SSHD_DIR" /run/sshd
	chmod 0755 /run/sshd
	HOST_KEY=$SSHD_DIR/host_ed25519
	CLIENT_KEY=$SSHD_DIR/client_ed25519
	rm -f "$HOST_KEY" "$HOST_KEY.pub" "$CLIENT_KEY" "$CLIENT_KEY.pub"
	ssh-keygen -q -t ed25519 -N '' -C rostersync-test-host -f "$HOST_KEY"
	ssh-keygen -q -t ed25519 -N '' -C rostersync-test-client \
	    -f "$CLIENT_KEY"
	cp "$CLIENT_KEY.pub" "$SSHD_DIR/authorized_keys"
	SSHD_PORT=$(sshd_free_port)
	sshd_config
	trap 'sshd_stop' EXIT
}

sshd_config() {
	cat >"$SSHD_DIR/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $SSHD_PORT
HostKey $HOST_KEY
PidFile $SSHD_DIR/sshd.pid
AuthorizedKeysFile $SSHD_DIR/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
MaxStartups 50
LoginGraceTime 30
Subsystem sftp internal-sftp
ForceCommand internal-sftp
LogLevel VERBOSE
EOF
	KNOWN_LINE="[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$HOST_KEY.pub")"
}

# Does something accept connections on the port?
sshd_answers() {
	"$PYTHON" -c 'import socket, sys
s = socket.socket()
s.settimeout(1)
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
    s.settimeout(2)
    sys.exit(0 if s.recv(4) == b"SSH-" else 1)
except OSError:
    sys.exit(1)' "$SSHD_PORT"
}

sshd_start() {
	local n tries
	for tries in 1 2 3 4 5; do
		"$SSHD" -D -e -f "$SSHD_DIR/sshd_config" \
		    >>"$SSHD_DIR/sshd.log" 2>&1 &
		SSHD_PID=$!
		disown "$SSHD_PID"	# no "Killed" notice when it is stopped
		for n in $(seq 1 50); do	# 5 seconds at most
			if ! kill -0 "$SSHD_PID" 2>/dev/null; then
				break
			fi
			if sshd_answers; then
				SSHD_STARTED=1
				return 0
			fi
			sleep 0.1
		done
		sshd_stop
		# Someone took the port since it was picked: take another
		# (only possible before the first start; known_hosts lines
		# name the port).
		if grep -q "Address already in use" "$SSHD_DIR/sshd.log" &&
		    [ "${SSHD_STARTED:-0}" = 0 ]; then
			SSHD_PORT=$(sshd_free_port)
			sshd_config
			continue
		fi
		break
	done
	echo "# sshd did not start; its log:" >&2
	tail -20 "$SSHD_DIR/sshd.log" | sed 's/^/# /' >&2
	return 1
}

# The pids under sshd: its sessions and their children.
sshd_sessions() {
	local queue=$SSHD_PID p kids
	[ -n "$SSHD_PID" ] || return 0
	while [ -n "$queue" ]; do
		set -- $queue
		p=$1
		shift
		queue="$*"
		kids=$(ps -o pid= --ppid "$p" 2>/dev/null | tr -d ' ')
		for k in $kids; do
			echo "$k"
			queue="$queue $k"
		done
	done
}

sshd_stop() {
	local pids p n
	[ -n "$SSHD_PID" ] || return 0
	pids=$(sshd_sessions)
	kill -9 "$SSHD_PID" 2>/dev/null
	for p in $pids; do
		kill -9 "$p" 2>/dev/null
	done
	for n in $(seq 1 50); do
		kill -0 "$SSHD_PID" 2>/dev/null || break
		sleep 0.1
	done
	SSHD_PID=
	return 0
}

sshd_pause() {
	local p
	for p in $SSHD_PID $(sshd_sessions); do
		kill -STOP "$p" 2>/dev/null
	done
}

sshd_resume() {
	local p
	for p in $SSHD_PID $(sshd_sessions); do
		kill -CONT "$p" 2>/dev/null
	done
}

# The newest internal-sftp process (one per SFTP channel) killed: 0, or 1
# when there is none.
sshd_kill_channel() {
	local p last=
	for p in $(sshd_sessions); do
		case "$(cat "/proc/$p/cmdline" 2>/dev/null | tr '\0' ' ')" in
		*internal-sftp*)
			if [ -z "$last" ] || [ "$p" -gt "$last" ]; then
				last=$p
			fi ;;
		esac
	done
	[ -n "$last" ] && kill -9 "$last"
}
