#!/usr/bin/env bash
# Starts or stops an OpenSSH sshd on 127.0.0.1 for the SFTP backend tests.
#
#   scripts/sftp-server.sh start DIR   start sshd (if not running) and write DIR/env
#   scripts/sftp-server.sh stop DIR    stop the sshd started with DIR
#
# DIR holds everything: the host key, a client key without passphrase, the
# authorized_keys and known_hosts files, sshd_config, the pid file, the log,
# and repos/, the directory the tests create repositories in. DIR/env sets
# GODWIT_TEST_SFTP_REPO and GODWIT_TEST_SFTP_SSH_OPTIONS; load it with
#   set -a; . DIR/env; set +a
# or point GODWIT_TEST_SFTP_ENV at it. The server logs in the current user
# with the client key only. Both commands are idempotent and print nothing
# on success.
set -euo pipefail

usage() {
	echo "usage: $0 start|stop DIR" >&2
	exit 2
}

[ $# -eq 2 ] || usage
cmd=$1
mkdir -p "$2"
dir=$(cd "$2" && pwd -P)

sshd=/usr/sbin/sshd

running() {
	[ -s "$dir/sshd.pid" ] && kill -0 "$(cat "$dir/sshd.pid")" 2>/dev/null
}

install_openssh() {
	if [ -x "$sshd" ] && command -v ssh >/dev/null && command -v ssh-keygen >/dev/null; then
		return
	fi
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -qq openssh-server openssh-client >/dev/null 2>&1; then
		apt-get update -qq >/dev/null
		apt-get install -y -qq openssh-server openssh-client >/dev/null
	fi
}

port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pick_port() {
	local port
	for _ in $(seq 100); do
		port=$((20000 + RANDOM % 30000))
		if port_free "$port"; then
			echo "$port"
			return
		fi
	done
	echo "$0: no free port found" >&2
	exit 1
}

start() {
	install_openssh
	mkdir -p "$dir/repos" /run/sshd
	chmod 0755 /run/sshd
	if running && [ -s "$dir/env" ]; then
		return
	fi

	[ -f "$dir/host_key" ] || ssh-keygen -q -t ed25519 -N '' -C godwit-test-host -f "$dir/host_key"
	[ -f "$dir/client_key" ] || ssh-keygen -q -t ed25519 -N '' -C godwit-test-client -f "$dir/client_key"
	chmod 0600 "$dir/host_key" "$dir/client_key"
	cp "$dir/client_key.pub" "$dir/authorized_keys"

	local port
	port=$(pick_port)
	cat >"$dir/sshd_config" <<CONFIG
ListenAddress 127.0.0.1
Port $port
HostKey $dir/host_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
AllowUsers $(id -un)
Subsystem sftp internal-sftp
LogLevel ERROR
CONFIG
	echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$dir/host_key.pub")" >"$dir/known_hosts"

	rm -f "$dir/sshd.pid"
	"$sshd" -f "$dir/sshd_config" -E "$dir/sshd.log"

	for _ in $(seq 100); do
		if ! port_free "$port" && running; then
			break
		fi
		sleep 0.1
	done
	if port_free "$port"; then
		echo "$0: sshd did not start listening on 127.0.0.1:$port; see $dir/sshd.log" >&2
		exit 1
	fi

	cat >"$dir/env.tmp" <<ENV
GODWIT_TEST_SFTP_REPO=sftp://$(id -un)@127.0.0.1:$port$dir/repos
GODWIT_TEST_SFTP_SSH_OPTIONS='-F none -i $dir/client_key -o IdentitiesOnly=yes -o UserKnownHostsFile=$dir/known_hosts -o GlobalKnownHostsFile=/dev/null -o BatchMode=yes'
ENV
	mv "$dir/env.tmp" "$dir/env"
}

stop() {
	if running; then
		local pid
		pid=$(cat "$dir/sshd.pid")
		kill "$pid"
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
	fi
	rm -f "$dir/sshd.pid" "$dir/env"
}

case $cmd in
start) start ;;
stop) stop ;;
*) usage ;;
esac
