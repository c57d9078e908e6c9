#!/usr/bin/env bash
# bench-migrate.sh measures the live commands on the 1M-key benchmark data
# in one session, each beside its reference:
#   fetch    - rdbkit fetch against redis-cli --rdb (same source, same run),
#              alternated ROUNDS times (default 3), from both sources below
#   copy     - rdbkit copy (SCAN+DUMP+RESTORE) against rdbkit restore of
#              the same data: the issue asks for at least half its throughput
#   compare  - rdbkit compare live-to-live after the copy, against the copy
#   sync     - rdbkit sync --until-synced against fetch followed by restore,
#              alternated ROUNDS times (default 3), from the source above
#              (disk-based replication: the snapshot is written to its disk
#              first, so sync has nothing to overlap) and from a source with
#              diskless replication (repl-diskless-sync yes, no delay: the
#              snapshot streams while it is made, as Redis 7 sends it by
#              default)
# SYNC_ONLY=1 runs the sync rounds alone.
# Every command must succeed and leave the destination with every key.
# Only the ratios of one run mean anything on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
file="$(go run ./internal/cmd/genbench 2>/dev/null)"
. scripts/lib.sh

port=0
start() { # name [file [diskless]]: starts a server in $work/name; its port is left in $port
	local dir="$work/$1"
	port=$(freeport)
	mkdir -p "$dir"
	if [ -n "${2:-}" ]; then cp "$2" "$dir/dump.rdb"; fi
	redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --save '' --appendonly no \
		--repl-diskless-sync "${3:-no}" --repl-diskless-sync-delay 0 --logfile "$dir/log" >/dev/null 2>&1 &
	pids+=($!)
	until redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; do sleep 0.1; done
	until [ "$(redis-cli -p "$port" info persistence | grep -c '^loading:0')" = 1 ]; do sleep 0.1; done
}
secs=0
timed() { # runs a command, fails the script if it fails, leaves its seconds in $secs
	local t0 t1
	t0=$(date +%s.%N)
	"$@" >"$work/out" 2>&1 || { echo "failed: $*" >&2; tail -5 "$work/out" >&2; exit 1; }
	t1=$(date +%s.%N)
	secs=$(echo "$t1 - $t0" | bc)
}
keys() { for db in 0 1 2; do redis-cli -p "$1" -n "$db" dbsize; done | paste -sd+ | bc; }
ratio() { echo "scale=2; $1 / $2" | bc; }

start src "$file"; src=$port
want=$(keys "$src")

# fetch against redis-cli --rdb, ROUNDS times, each going first in turn.
# Both write (and fsync) a file of the data's size (after a BGSAVE wrote
# one, on a disk-based source): each starts once the disk has written back
# the files before it (sync), so that neither pays for the other's writes.
fetch_cli() { rm -f "$work/cli.rdb"; sync; timed redis-cli -p "$1" --rdb "$work/cli.rdb"; cli_rdb=$secs; }
fetch_rk() { rm -f "$work/fetched.rdb"; sync; timed "$rk" fetch --from "redis://127.0.0.1:$1" -o "$work/fetched.rdb"; fetch=$secs; }
fetch_rounds() { # source port, label
	local round
	for round in $(seq "${ROUNDS:-3}"); do
		if [ $((round % 2)) = 1 ]; then
			fetch_cli "$1"; fetch_rk "$1"
		else
			fetch_rk "$1"; fetch_cli "$1"
		fi
		printf 'fetch    %6.2f s   redis-cli --rdb %6.2f s   ratio %s   (%s, round %d)\n' \
			"$fetch" "$cli_rdb" "$(ratio "$fetch" "$cli_rdb")" "$2" "$round"
	done
}

if [ -z "${SYNC_ONLY:-}" ]; then # SYNC_ONLY=1: the sync rounds alone
	fetch_rounds "$src" disk-based

	start restore-dst; d1=$port
	timed "$rk" restore "$work/fetched.rdb" --to "redis://127.0.0.1:$d1"; restore=$secs
	start copy-dst; d2=$port
	timed "$rk" copy --from "redis://127.0.0.1:$src" --to "redis://127.0.0.1:$d2"; copy=$secs
	[ "$(keys "$d1")" = "$want" ] && [ "$(keys "$d2")" = "$want" ] || { echo "key counts differ" >&2; exit 1; }
	printf 'restore  %6.2f s   copy            %6.2f s   copy throughput / restore throughput %s\n' \
		"$restore" "$copy" "$(ratio "$restore" "$copy")"

	timed "$rk" compare "redis://127.0.0.1:$src" --to "redis://127.0.0.1:$d2"; compare=$secs
	printf 'compare  %6.2f s   copy            %6.2f s   ratio %s\n' "$compare" "$copy" "$(ratio "$compare" "$copy")"
fi

# sync against fetch followed by restore, alternated ROUNDS times (default
# 3) with fresh destinations, so that both see the same machine; from the
# disk-based source, then from a diskless one.
sync_rounds() { # source port, label
	local from=$1 label=$2 round f r dp d3 both
	for round in $(seq "${ROUNDS:-3}"); do
		rm -f "$work/fetched.rdb"
		start pair-dst; dp=$port
		sync # each starts with the disk's write-back done, as the fetch rounds do
		timed "$rk" fetch --from "redis://127.0.0.1:$from" -o "$work/fetched.rdb"; f=$secs
		timed "$rk" restore "$work/fetched.rdb" --to "redis://127.0.0.1:$dp"; r=$secs
		start sync-dst; d3=$port
		sync
		timed "$rk" sync --from "redis://127.0.0.1:$from" --to "redis://127.0.0.1:$d3" --until-synced; sync=$secs
		[ "$(keys "$dp")" = "$want" ] && [ "$(keys "$d3")" = "$want" ] || { echo "sync: key counts differ" >&2; exit 1; }
		redis-cli -p "$dp" shutdown nosave >/dev/null 2>&1 || true
		redis-cli -p "$d3" shutdown nosave >/dev/null 2>&1 || true
		both=$(echo "$f + $r" | bc)
		printf 'sync     %6.2f s   fetch+restore   %6.2f s (%.2f + %.2f)   ratio %s   (%s, round %d)\n' \
			"$sync" "$both" "$f" "$r" "$(ratio "$sync" "$both")" "$label" "$round"
	done
}
sync_rounds "$src" disk-based
redis-cli -p "$src" shutdown nosave >/dev/null 2>&1 || true
start src-diskless "$file" yes
[ -n "${SYNC_ONLY:-}" ] || fetch_rounds "$port" diskless
sync_rounds "$port" diskless
echo "keys: $want"
