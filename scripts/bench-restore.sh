#!/usr/bin/env bash
# bench-restore.sh measures, in one session, on the 1M-key benchmark file:
#   load   - redis-server loading the file itself ("DB loaded from disk")
#   pipe   - redis-cli --pipe fed ready-made RESTORE commands for the same keys
#   rdbkit - rdbkit restore of the file into an empty server
# and prints each with its ratio to the server's own load time, keys/s and
# MB/s, and rdbkit's peak memory. Only the ratios of one run mean anything.
set -euo pipefail
cd "$(dirname "$0")/.."
file="$(go run ./internal/cmd/genbench)"
. scripts/lib.sh

start() { # dir port [dbfilename]
	redis-server --bind 127.0.0.1 --port "$2" --dir "$1" --dbfilename "${3:-dump.rdb}" \
		--save '' --appendonly no --logfile "$1/log" --daemonize no &
	pids+=($!)
	until redis-cli -p "$2" ping 2>/dev/null | grep -q PONG; do sleep 0.1; done
}
now() { date +%s.%N; }
cpu() { redis-cli -p "$1" info cpu | awk -F: '/^used_cpu_(user|sys):/ { s += $2 } END { printf "%.2f", s }'; }

# the server's own load time
mkdir -p "$work/load" && cp "$file" "$work/load/dump.rdb"
p=$(freeport); start "$work/load" "$p"
load=$(grep -o 'DB loaded from disk: [0-9.]* seconds' "$work/load/log" | grep -o '[0-9.]*' | head -1)
load_cpu=$(cpu "$p")
keys=$(for db in 0 1 2; do redis-cli -p "$p" -n $db dbsize; done | paste -sd+ | bc)
redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true

# redis-cli --pipe with ready-made RESTORE commands
"$work/rdbkit" export "$file" --format resp --restore -o "$work/restore.resp"
mkdir -p "$work/pipe"; p=$(freeport); start "$work/pipe" "$p"
c0=$(cpu "$p"); t0=$(now); redis-cli -p "$p" --pipe < "$work/restore.resp" >/dev/null; t1=$(now)
pipe=$(echo "$t1 - $t0" | bc); pipe_cpu=$(echo "$(cpu "$p") - $c0" | bc)
redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true

# rdbkit restore
mkdir -p "$work/rdbkit-dst"; p=$(freeport); start "$work/rdbkit-dst" "$p"
c0=$(cpu "$p"); t0=$(now)
/usr/bin/time -f '%M %U %S' -o "$work/rss" "$work/rdbkit" restore "$file" --to "redis://127.0.0.1:$p" >/dev/null
t1=$(now)
restore=$(echo "$t1 - $t0" | bc); restore_cpu=$(echo "$(cpu "$p") - $c0" | bc)
got=$(for db in 0 1 2; do redis-cli -p "$p" -n $db dbsize; done | paste -sd+ | bc)

size=$(stat -c %s "$file")
printf 'file: %s (%d bytes, %d keys; restored %d)\n' "$file" "$size" "$keys" "$got"
printf '%-8s %8.2f s  %5.2fx load  %9.0f keys/s  %7.1f MB/s\n' \
	load "$load" 1 "$(echo "$keys / $load" | bc -l)" "$(echo "$size / $load / 1000000" | bc -l)" \
	pipe "$pipe" "$(echo "$pipe / $load" | bc -l)" "$(echo "$keys / $pipe" | bc -l)" "$(echo "$size / $pipe / 1000000" | bc -l)" \
	rdbkit "$restore" "$(echo "$restore / $load" | bc -l)" "$(echo "$keys / $restore" | bc -l)" "$(echo "$size / $restore / 1000000" | bc -l)"
read -r rss user sys < "$work/rss"
printf 'rdbkit restore peak RSS: %d KiB, CPU %.2f s (user+sys)\n' "$rss" "$(echo "$user + $sys" | bc)"
# The server's own CPU (INFO cpu) for each: the work the client cannot
# take from it, on a machine where they share one effective core.
printf 'server CPU: load %.2f s, RESTOREs from the pipe %.2f s (%.2fx), from rdbkit %.2f s (%.2fx)\n' \
	"$load_cpu" "$pipe_cpu" "$(echo "$pipe_cpu / $load_cpu" | bc -l)" "$restore_cpu" "$(echo "$restore_cpu / $load_cpu" | bc -l)"
