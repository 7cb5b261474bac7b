# Shared by bench/run.sh, bench/files.sh and bench/remote.sh; sourced, not
# run.
#
# Expects: $root (the checkout), $work (a scratch directory on the disk under
# test). Provides tool setup, the three tools behind one interface
# (tool_init, tool_backup, tool_restore), timing with peak RSS, and the
# Markdown section writer. A script that compares fewer tools sets
# all_tools and peers after sourcing this file and before setup_tools.
#
# Repositories are local directories under $BENCH_WORK unless
# BENCH_REPO_<tool> (BENCH_REPO_godwit, BENCH_REPO_restic) names another
# location; BENCH_RESTIC_SFTP_COMMAND, when set, is passed to restic as
# -o sftp.command=... .

tools=${BENCH_TOOLS:-$root/bench/out/tools}
restic_version=v0.19.1
peers=(restic borg)
all_tools=(godwit restic borg)

log() { printf '==> %s\n' "$*" >&2; }

# uses TOOL reports whether TOOL is one of all_tools.
uses() { [[ " ${all_tools[*]} " == *" $1 "* ]]; }

# setup_tools installs restic and (when all_tools has it) borg if missing,
# /usr/bin/time, and builds godwit and mailgen into $tools.
setup_tools() {
	mkdir -p "$tools"
	if [[ ! -x $tools/restic ]] || ! "$tools/restic" version | grep -q "restic ${restic_version#v} "; then
		log "installing restic $restic_version into $tools"
		GOBIN=$tools go install "github.com/restic/restic/cmd/restic@$restic_version"
	fi
	if uses borg && ! command -v borg >/dev/null; then
		log "installing borgbackup"
		apt-get install -y borgbackup >/dev/null || { apt-get update >/dev/null && apt-get install -y borgbackup >/dev/null; }
	fi
	if [[ ! -x /usr/bin/time ]]; then
		log "installing time"
		apt-get install -y time >/dev/null || { apt-get update >/dev/null && apt-get install -y time >/dev/null; }
	fi
	log "building godwit and mailgen"
	(cd "$root" && go build -o "$tools/godwit" ./cmd/godwit && go build -o "$tools/mailgen" ./bench/mailgen)
	export GODWIT_BIN=$tools/godwit RESTIC_BIN=$tools/restic
	uses borg || return 0
	# borg 1.2 calls it repokey-blake2; borg 2 has a different command set.
	case $(borg --version) in
	"borg 1."*) export BORG_ENCRYPTION=repokey-blake2 ;;
	*) echo "unsupported $(borg --version): this script drives borg 1.x" >&2; exit 1 ;;
	esac
}

# setup_env points every tool's passphrase, cache and state into $work.
setup_env() {
	mkdir -p "$work/cache"
	head -c 24 /dev/urandom | base64 >"$work/password"
	export BENCH_WORK=$work
	export GODWIT_PASSWORD_FILE=$work/password
	export GODWIT_KNOWN_REPOSITORIES=$work/cache/godwit-known
	export GODWIT_CACHE_DIR=$work/cache/godwit
	export RESTIC_CACHE_DIR=$work/cache/restic
	RESTIC_PASSWORD=$(cat "$work/password")
	BORG_PASSPHRASE=$RESTIC_PASSWORD
	export RESTIC_PASSWORD BORG_PASSPHRASE
	export BORG_BASE_DIR=$work/cache/borg
	export BORG_CACHE_DIR=$work/cache/borg/cache BORG_CONFIG_DIR=$work/cache/borg/config
	export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
	export BORG_CHECK_I_KNOW_WHAT_I_AM_DOING=NO BORG_DELETE_I_KNOW_WHAT_I_AM_DOING=NO
}

# repo_of TOOL prints TOOL's repository location: $BENCH_REPO_<TOOL> if set,
# else a directory under $BENCH_WORK.
repo_of() {
	local v=BENCH_REPO_$1
	if [[ -n ${!v:-} ]]; then echo "${!v}"; else echo "${BENCH_WORK:?}/repo-$1"; fi
}

# restic_cmd ARGS...: restic on its repository, with the SFTP command if set.
restic_cmd() {
	"$RESTIC_BIN" -r "$(repo_of restic)" ${BENCH_RESTIC_SFTP_COMMAND:+-o "sftp.command=$BENCH_RESTIC_SFTP_COMMAND"} "$@"
}

# tool_init TOOL: create an empty repository.
tool_init() {
	local r
	r=$(repo_of "$1")
	case $1 in
	godwit) "$GODWIT_BIN" init --repo "$r" --password-file "$GODWIT_PASSWORD_FILE" ;;
	restic) restic_cmd init ;;
	borg) borg init --encryption "$BORG_ENCRYPTION" "$r" ;;
	esac
}

# tool_backup TOOL NAME SRC: back up SRC as a new snapshot (borg archive NAME).
tool_backup() {
	local r
	r=$(repo_of "$1")
	case $1 in
	godwit) "$GODWIT_BIN" backup --repo "$r" --password-file "$GODWIT_PASSWORD_FILE" --quiet "$3" ;;
	restic) restic_cmd backup --compression auto --host bench --quiet "$3" ;;
	borg) borg create --compression zstd,3 "$r::$2" "$3" ;;
	esac
}

# tool_restore TOOL TARGET: restore the latest snapshot under TARGET (which
# must be empty); the source tree ends up at TARGET/<absolute source path>.
tool_restore() {
	local r
	r=$(repo_of "$1")
	mkdir -p "$2"
	case $1 in
	godwit) "$GODWIT_BIN" restore --repo "$r" --password-file "$GODWIT_PASSWORD_FILE" --quiet latest --target "$2" ;;
	restic) restic_cmd restore --quiet latest --target "$2" ;;
	borg) (cd "$2" && borg extract "$r::$(borg list --last 1 --short "$r")") ;;
	esac
}
export -f tool_init tool_backup tool_restore repo_of restic_cmd

# timed KEY CMD...: run CMD under /usr/bin/time -v; records wall seconds in
# $res/KEY.time, user plus system CPU seconds in $res/KEY.cpu and peak RSS
# in KiB in $res/KEY.rss ("fail" in all three on failure). Output goes to
# $res/KEY.log.
timed() {
	local key=$1 t0 t1
	shift
	t0=$(date +%s.%N)
	if /usr/bin/time -v -o "$res/$key.tv" "$@" >"$res/$key.log" 2>&1; then
		t1=$(date +%s.%N)
		awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", b - a }' >"$res/$key.time"
		awk -F': ' '/Maximum resident set size/ { print $2 }' "$res/$key.tv" >"$res/$key.rss"
		awk -F': ' '/(User|System) time \(seconds\)/ { s += $2 } END { printf "%.2f\n", s }' "$res/$key.tv" >"$res/$key.cpu"
		log "$key: $(cat "$res/$key.time") s, $(cat "$res/$key.rss") KiB peak RSS"
	else
		echo fail >"$res/$key.time"
		echo fail >"$res/$key.rss"
		echo fail >"$res/$key.cpu"
		log "$key FAILED (see $res/$key.log):"
		tail -5 "$res/$key.log" >&2
	fi
}

# put KEY VALUE records a measured value.
put() { echo "$2" >"$res/$1"; }
get() { cat "$res/$1" 2>/dev/null || echo fail; }

repo_bytes() {
	local b
	if b=$(du -sb "$(repo_of "$1")" 2>/dev/null); then echo "${b%%[[:space:]]*}"; else echo fail; fi
}

# minus A B prints A-B, or "fail" when either is not a number.
minus() {
	if [[ $1 =~ ^[0-9]+$ && $2 =~ ^[0-9]+$ ]]; then echo $(($1 - $2)); else echo fail; fi
}

# human VALUE UNIT formats a number for the table: seconds, bytes or KiB.
human() {
	local v=$1
	[[ $v == fail || -z $v ]] && { echo "failed"; return; }
	case $2 in
	s) awk -v v="$v" 'BEGIN { printf "%.2f s", v }' ;;
	bytes) awk -v v="$v" 'BEGIN { if (v >= 1073741824) printf "%.2f GiB", v/1073741824; else if (v >= 1048576) printf "%.1f MiB", v/1048576; else printf "%.0f KiB", v/1024 }' ;;
	kib) awk -v v="$v" 'BEGIN { printf "%.0f MiB", v/1024 }' ;;
	esac
}

# ratio GODWIT PEER...: godwit divided by the smallest peer value.
ratio() {
	local g=$1 best=""
	shift
	for p in "$@"; do
		[[ $p == fail || -z $p ]] && continue
		if [[ -z $best ]] || awk -v a="$p" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$p; fi
	done
	if [[ $g == fail || -z $g || -z $best ]]; then echo "–"; return; fi
	awk -v g="$g" -v b="$best" 'BEGIN { if (b == 0) print "–"; else printf "%.2f×", g / b }'
}

# row LABEL KEY UNIT: one table row from $res/<tool>.KEY.
row() {
	local label=$1 key=$2 unit=$3 vals=() t
	for t in "${all_tools[@]}"; do vals+=("$(get "$t.$key")"); done
	printf '| %s | %s | %s | %s | %s |\n' "$label" "$(human "${vals[0]}" "$unit")" "$(human "${vals[1]}" "$unit")" "$(human "${vals[2]}" "$unit")" "$(ratio "${vals[@]}")"
}

machine_info() {
	local cpu mem
	cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2/1048576 }' /proc/meminfo)
	echo "- Machine: $(nproc) CPUs (${cpu:-unknown CPU}), $mem memory, Linux $(uname -r), work dir on $(stat -f -c %T "$work") ($(df -h --output=source "$work" | tail -1))"
	local borg="" built=""
	uses borg && borg="$(borg --version) (\`--encryption $BORG_ENCRYPTION\`); "
	if built=$(git -C "$root" rev-parse --short HEAD 2>/dev/null); then
		[[ -z $(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null) ]] || built+=" plus uncommitted changes"
		built=" built from $built"
	fi
	echo "- Versions: $("$GODWIT_BIN" version 2>&1 | head -1)$built; $("$RESTIC_BIN" version | head -1); $borg$(go version | cut -d' ' -f3-4)"
}

# write_section NAME FILE: replace the <!-- bench:NAME --> ... <!-- /bench:NAME -->
# section of docs/benchmarks.md with FILE's contents, or append it.
write_section() {
	local name=$1 body=$2 doc=${BENCH_DOC:-$root/docs/benchmarks.md} tmp
	mkdir -p "$(dirname "$doc")"
	[[ -f $doc ]] || printf '# Benchmarks\n\ngodwit against restic and borg on the same machine, in the same run. Regenerate a section with the command it names.\n' >"$doc"
	tmp=$(mktemp "$doc.XXXXXX")
	awk -v start="<!-- bench:$name -->" -v end="<!-- /bench:$name -->" -v body="$body" '
		function emit() { print start; while ((getline line < body) > 0) print line; print end; done = 1 }
		$0 == start { skip = 1; emit(); next }
		$0 == end { skip = 0; next }
		!skip { print }
		END { if (!done) { print ""; emit() } }
	' "$doc" >"$tmp"
	mv "$tmp" "$doc"
	log "wrote the $name section of $doc"
}
