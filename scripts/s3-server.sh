#!/usr/bin/env bash
# s3-server.sh start DIR | stop DIR
#
# Runs a local S3 server (versitygw with its POSIX backend) on 127.0.0.1 for
# the S3 backend tests.
#
#   start DIR  builds versitygw into $GODWIT_TOOLS (default: <repo>/.tools/bin)
#              if it is not there yet, starts it on a free port with objects
#              in DIR/data and object versions in DIR/versions (needed for
#              Object Lock), waits until it answers, and writes DIR/env:
#                GODWIT_TEST_S3_ENDPOINT, AWS_ACCESS_KEY_ID,
#                AWS_SECRET_ACCESS_KEY, AWS_REGION
#              The tests create the buckets they need themselves.
#   stop DIR   stops the server started with DIR and removes DIR/pid.
#
# Both are idempotent and print nothing on success. Use:
#   bash scripts/s3-server.sh start /tmp/godwit-s3 &&
#     set -a && . /tmp/godwit-s3/env && set +a && go test ./backends/s3
set -euo pipefail

VERSITYGW_VERSION=v1.8.0
ACCESS_KEY=godwittestaccess
SECRET_KEY=godwittestsecret0123456789
REGION=us-east-1

usage() {
	echo "usage: $0 start DIR | stop DIR" >&2
	exit 2
}

die() {
	echo "s3-server: $*" >&2
	exit 1
}

tools_dir() {
	if [[ -n "${GODWIT_TOOLS:-}" ]]; then
		echo "$GODWIT_TOOLS"
		return
	fi
	local top
	top=$(git -C "$(dirname "$0")" rev-parse --show-toplevel 2>/dev/null) ||
		top=$(cd "$(dirname "$0")/.." && pwd)
	echo "$top/.tools/bin"
}

running() { # pidfile
	[[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

free_port() {
	local port
	for _ in $(seq 1 100); do
		port=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return
		fi
	done
	die "no free port found on 127.0.0.1"
}

start() {
	local dir=$1
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if running "$dir/pid" && [[ -f "$dir/env" ]]; then
		return 0
	fi
	rm -f "$dir/pid" "$dir/env"

	local tools bin
	tools=$(tools_dir)
	bin="$tools/versitygw"
	if [[ ! -x "$bin" ]]; then
		mkdir -p "$tools"
		GOBIN="$tools" go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" >"$dir/build.log" 2>&1 ||
			die "building versitygw failed; see $dir/build.log"
	fi

	mkdir -p "$dir/data" "$dir/versions"
	local port pid
	for _ in 1 2 3; do
		port=$(free_port)
		"$bin" --port "127.0.0.1:$port" --access "$ACCESS_KEY" --secret "$SECRET_KEY" \
			--region "$REGION" --quiet \
			posix --versioning-dir "$dir/versions" "$dir/data" \
			>"$dir/versitygw.log" 2>&1 </dev/null &
		pid=$!
		echo "$pid" >"$dir/pid"
		for _ in $(seq 1 100); do
			if ! kill -0 "$pid" 2>/dev/null; then
				break
			fi
			# Any HTTP answer (an unsigned request gets 403) means it serves.
			if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
				cat >"$dir/env" <<-EOF
					GODWIT_TEST_S3_ENDPOINT=http://127.0.0.1:$port
					AWS_ACCESS_KEY_ID=$ACCESS_KEY
					AWS_SECRET_ACCESS_KEY=$SECRET_KEY
					AWS_REGION=$REGION
				EOF
				return 0
			fi
			sleep 0.1
		done
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		rm -f "$dir/pid"
	done
	die "versitygw did not start; see $dir/versitygw.log"
}

stop() {
	local dir=$1
	[[ -d "$dir" ]] || return 0
	if running "$dir/pid"; then
		local pid
		pid=$(cat "$dir/pid")
		kill "$pid"
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			kill -9 "$pid" 2>/dev/null || true
		fi
	fi
	rm -f "$dir/pid" "$dir/env"
}

[[ $# -eq 2 ]] || usage
case $1 in
start) start "$2" ;;
stop) stop "$2" ;;
*) usage ;;
esac
