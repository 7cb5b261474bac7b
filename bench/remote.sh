#!/usr/bin/env bash
# Offsite benchmark: godwit and restic back up the same generated mail tree to
# an SFTP server (OpenSSH sshd, scripts/sftp-server.sh) and to an S3 server
# (versitygw, scripts/s3-server.sh), both on 127.0.0.1, in the same run.
# Each step runs for every backend and tool before the next step, so all see
# the same tree and a similarly warm page cache. borg is left out: it has no
# S3 backend, and its SSH mode needs borg installed on the server.
#
#   bench/remote.sh                     # 1 GiB corpus (long)
#   BENCH_SIZE=50MiB bench/remote.sh    # quick run
#
# Environment: BENCH_SIZE (default 1GiB), BENCH_SEED (1), BENCH_WORK (scratch
# directory, default bench/out/remote; the servers keep their files under it
# too), BENCH_TOOLS, BENCH_DOC as for bench/run.sh. Results replace the
# <!-- bench:remote --> section of docs/benchmarks.md. The servers are
# stopped when the script exits, whether it succeeds or not.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
size=${BENCH_SIZE:-1GiB}
seed=${BENCH_SEED:-1}
work=${BENCH_WORK:-$root/bench/out/remote}
command="BENCH_SIZE=$size BENCH_SEED=$seed bench/remote.sh"
# shellcheck source=bench/lib.sh
source bench/lib.sh
all_tools=(godwit restic)
peers=(restic)
backends=(sftp s3)

# stop_servers stops the servers started under $work; safe to call when
# none runs.
stop_servers() {
	bash "$root/scripts/sftp-server.sh" stop "$work/sftp" || true
	bash "$root/scripts/s3-server.sh" stop "$work/s3" || true
}

# create_bucket NAME creates an S3 bucket on the local server (godwit does
# not create buckets); an existing bucket of ours is fine.
create_bucket() {
	local code
	code=$(curl -sS -o "$res/bucket-$1.xml" -w '%{http_code}' -X PUT \
		--aws-sigv4 "aws:amz:$AWS_REGION:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
		-H "x-amz-content-sha256: $(sha256sum </dev/null | cut -d' ' -f1)" \
		"$GODWIT_TEST_S3_ENDPOINT/$1")
	if [[ $code != 200 ]] && ! grep -q BucketAlreadyOwnedByYou "$res/bucket-$1.xml"; then
		log "creating bucket $1 failed (HTTP $code):"
		cat "$res/bucket-$1.xml" >&2
		exit 1
	fi
}

# use_backend BACKEND points tool_init, tool_backup and tool_restore at the
# BACKEND repositories (one per tool).
use_backend() {
	case $1 in
	sftp)
		export BENCH_REPO_godwit=$GODWIT_TEST_SFTP_REPO/godwit
		export BENCH_REPO_restic=sftp:$sftp_user@127.0.0.1:$work/sftp/repos/restic
		export GODWIT_SFTP_ARGS=$GODWIT_TEST_SFTP_SSH_OPTIONS
		export BENCH_RESTIC_SFTP_COMMAND="ssh -p $sftp_port $GODWIT_TEST_SFTP_SSH_OPTIONS $sftp_user@127.0.0.1 -s sftp"
		;;
	s3)
		export BENCH_REPO_godwit=s3:$GODWIT_TEST_S3_ENDPOINT/bench-godwit/repo
		export BENCH_REPO_restic=s3:$GODWIT_TEST_S3_ENDPOINT/bench-restic/repo
		unset GODWIT_SFTP_ARGS BENCH_RESTIC_SFTP_COMMAND
		;;
	esac
}

# stored_bytes BACKEND TOOL: bytes the server holds for TOOL's repository
# (the repository directory for SFTP, the bucket directory in versitygw's
# data directory for S3).
stored_bytes() {
	local dir b
	case $1 in
	sftp) dir=$work/sftp/repos/$2 ;;
	s3) dir=$work/s3/data/bench-$2 ;;
	esac
	if b=$(du -sb "$dir" 2>/dev/null); then echo "${b%%[[:space:]]*}"; else echo fail; fi
}

# each STEP CMD...: for every backend and tool, run CMD... TOOL under timed
# as key BACKEND.TOOL.STEP.
each() {
	local step=$1 b t
	shift
	for b in "${backends[@]}"; do
		use_backend "$b"
		for t in "${all_tools[@]}"; do
			timed "$b.$t.$step" "$@" "$t"
		done
	done
}

# remote_row LABEL KEY UNIT: one table row from $res/<backend>.<tool>.KEY,
# godwit and restic with their ratio for each backend.
remote_row() {
	local label=$1 key=$2 unit=$3 line b g r
	line="| $label"
	for b in "${backends[@]}"; do
		g=$(get "$b.godwit.$key")
		r=$(get "$b.restic.$key")
		line+=" | $(human "$g" "$unit") | $(human "$r" "$unit") | $(ratio "$g" "$r")"
	done
	echo "$line |"
}

setup_tools
stop_servers
rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)
res=$work/results
mkdir -p "$res"
setup_env
src=$work/src

trap stop_servers EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
log "starting sshd and versitygw on 127.0.0.1"
bash scripts/sftp-server.sh start "$work/sftp"
bash scripts/s3-server.sh start "$work/s3"
set -a
# shellcheck source=/dev/null
. "$work/sftp/env"
# shellcheck source=/dev/null
. "$work/s3/env"
set +a
sftp_user=$(id -un)
sftp_port=${GODWIT_TEST_SFTP_REPO#sftp://*@127.0.0.1:}
sftp_port=${sftp_port%%/*}
for t in "${all_tools[@]}"; do
	create_bucket "bench-$t"
done

log "generating a $size mail corpus (seed $seed)"
"$tools/mailgen" -out "$src" -size "$size" -seed "$seed"
put corpus.bytes "$(du -sb "$src" | cut -f1)"
put corpus.files "$(find "$src" -type f | wc -l)"

put load.start "$(cut -d' ' -f1 /proc/loadavg)"
each init bash -c 'tool_init "$@"' _
each initial bash -c 'tool_backup "$2" initial "$1"' _ "$src"
each unchanged bash -c 'tool_backup "$2" unchanged "$1"' _ "$src"
for b in "${backends[@]}"; do
	for t in "${all_tools[@]}"; do
		put "$b.$t.before" "$(stored_bytes "$b" "$t")"
	done
done

log "simulating one day of mail"
"$tools/mailgen" -mutate -out "$src" -seed "$((seed + 1))" 2>"$res/mutate.log"
cat "$res/mutate.log" >&2

each day bash -c 'tool_backup "$2" day1 "$1"' _ "$src"
for b in "${backends[@]}"; do
	for t in "${all_tools[@]}"; do
		put "$b.$t.repo" "$(stored_bytes "$b" "$t")"
		put "$b.$t.added" "$(minus "$(get "$b.$t.repo")" "$(get "$b.$t.before")")"
	done
done

for b in "${backends[@]}"; do
	use_backend "$b"
	for t in "${all_tools[@]}"; do
		target=$work/restore-$b-$t
		timed "$b.$t.restore" bash -c 'tool_restore "$@"' _ "$t" "$target"
		if [[ $(get "$b.$t.restore.time") == fail ]]; then
			put "$b.$t.verified" "no restore"
		elif diff -r "$src" "$target$src" >"$res/$b.$t.diff" 2>&1; then
			put "$b.$t.verified" yes
		else
			put "$b.$t.verified" "NO ($(wc -l <"$res/$b.$t.diff") differences, see $res/$b.$t.diff)"
			log "$t restore from $b differs from the source"
		fi
		rm -rf "$target"
	done
done

put load.end "$(cut -d' ' -f1 /proc/loadavg)"

for b in "${backends[@]}"; do
	for t in "${all_tools[@]}"; do
		max=0
		for step in initial unchanged day; do
			v=$(get "$b.$t.$step.rss")
			[[ $v != fail ]] && ((v > max)) && max=$v
		done
		put "$b.$t.backup.rss" "$max"
	done
done

section=$work/section.md
{
	echo "## Offsite: SFTP and S3, $size corpus"
	echo
	echo "$(date -u +%Y-%m-%d): $(get corpus.files) files, $(human "$(get corpus.bytes)" bytes) generated by \`bench/mailgen -size $size -seed $seed\`, then one simulated day (\`mailgen -mutate -seed $((seed + 1))\`: $(sed 's/^mailgen: one day in [^:]*: //; s/ ([0-9.]*s)$//' "$res/mutate.log"))."
	echo
	machine_info
	echo "- Servers: OpenSSH $(ssh -V 2>&1 | sed 's/^OpenSSH_\([^ ,]*\).*/\1/') sshd (\`internal-sftp\`, \`scripts/sftp-server.sh\`) and versitygw $(sed -n 's/^VERSITYGW_VERSION=//p' scripts/s3-server.sh) with its POSIX backend (\`scripts/s3-server.sh\`), both on 127.0.0.1 of the same machine, so transfers cost CPU and no network latency; a real link adds round trips and bandwidth limits that this does not show."
	echo "- Load average (1 minute) when the first step started: $(get load.start), after the last: $(get load.end). Wall times grow with load from other processes; the CPU rows (user plus system time of the client, including its \`ssh\` child, not the servers) do much less."
	echo "- Command: \`$command\`"
	echo "- godwit uses \`sftp://USER@127.0.0.1:PORT/DIR\` with \`GODWIT_SFTP_ARGS\` and \`s3:http://127.0.0.1:PORT/bench-godwit/repo\`; restic uses \`sftp:USER@127.0.0.1:DIR\` with \`-o sftp.command=\"ssh -p PORT ... -s sftp\"\` (the same key and known_hosts options) and \`s3:http://127.0.0.1:PORT/bench-restic/repo\`, with \`--compression auto\`. Both use their default connection counts."
	echo "- Each step runs for every backend and tool in turn before the next step; page caches are warm and not dropped. Repository size is \`du -sb\` of what the server stores: the repository directory for SFTP, the bucket directory under versitygw's data directory for S3 (versitygw keeps object metadata in extended attributes, which this does not count). Peak RSS from \`/usr/bin/time -v\` (including the \`ssh\` child)."
	echo "- One run of each step. At small scales a few MiB of difference in the size rows comes from how each run groups blobs into packs (restic fills packs from parallel workers), so read ratios there as rough."
	echo "- borg is not in these columns: it has no S3 backend, and its SSH mode (\`ssh://\`) runs \`borg serve\` on the server rather than speaking SFTP."
	echo
	echo "| | godwit SFTP | restic SFTP | godwit / restic | godwit S3 | restic S3 | godwit / restic |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	remote_row "initial backup" initial.time s
	remote_row "CPU, initial backup" initial.cpu s
	remote_row "unchanged re-backup" unchanged.time s
	remote_row "CPU, unchanged re-backup" unchanged.cpu s
	remote_row "backup after one day" day.time s
	remote_row "CPU, backup after one day" day.cpu s
	remote_row "bytes added by that day" added bytes
	remote_row "full restore" restore.time s
	remote_row "CPU, full restore" restore.cpu s
	remote_row "repository size (3 snapshots)" repo bytes
	remote_row "peak RSS, backups" backup.rss kib
	remote_row "peak RSS, restore" restore.rss kib
	echo
	echo "Restore compared with the source (\`diff -r\`): SFTP godwit $(get sftp.godwit.verified), restic $(get sftp.restic.verified); S3 godwit $(get s3.godwit.verified), restic $(get s3.restic.verified). Ratios below 1 favour godwit."
} >"$section"
cat "$section"
write_section remote "$section"
