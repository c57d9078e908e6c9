#!/usr/bin/env bash
# bench-sync-lag.sh measures how far rdbkit sync lags behind a source under
# write load: redis-benchmark -t set,lpush,hset -P 16 against the source
# while sync applies its command stream to the destination.
#
# The lag is measured from outside, not taken from sync's own gauges:
# every 100 ms a sampler reads the source's master_repl_offset (INFO
# replication) and sync's applied offset (rdbkit_sync_applied_offset on
# --metrics-addr). The lag of an applied sample is the time since the
# source's offset passed that value (source samples interpolated
# linearly), so it counts every stage: the source's output buffer, the
# link, rdbkit and the destination's replies.
#
#   scripts/bench-sync-lag.sh [REQUESTS]   (REQUESTS per test, default 1000000)
#   SYNC_ARGS=--no-position-mark scripts/bench-sync-lag.sh   (extra flags of sync)
#
# The source starts with the 1M-key benchmark data (make bench-data) so
# that the load runs against a realistic keyspace; the load starts once
# sync has loaded the snapshot and caught up.
set -euo pipefail
cd "$(dirname "$0")/.."
requests="${1:-1000000}"
file="$(go run ./internal/cmd/genbench 2>/dev/null)"
. scripts/lib.sh

start() { # name port [file]
	local dir="$work/$1"
	mkdir -p "$dir"
	if [ -n "${3:-}" ]; then cp "$3" "$dir/dump.rdb"; fi
	redis-server --bind 127.0.0.1 --port "$2" --dir "$dir" --save '' --appendonly no \
		--repl-diskless-sync no --logfile "$dir/log" >/dev/null 2>&1 &
	pids+=($!)
	until redis-cli -p "$2" ping 2>/dev/null | grep -q PONG; do sleep 0.1; done
	until [ "$(redis-cli -p "$2" info persistence | grep -c '^loading:0')" = 1 ]; do sleep 0.1; done
}
src=$(freeport); start src "$src" "$file"
dst=$(freeport); start dst "$dst"
mport=$(freeport)

"$work/rdbkit" sync --from "redis://127.0.0.1:$src" --to "redis://127.0.0.1:$dst" \
	--metrics-addr "127.0.0.1:$mport" ${SYNC_ARGS:-} >"$work/sync.out" 2>"$work/sync.err" &
syncpid=$!
pids+=($syncpid)
metric() { curl -s "http://127.0.0.1:$mport/metrics" 2>/dev/null | awk -v m="$1" '$1 == m { print $2 }'; }
# Wait for the stream phase and for the applied offset to reach the source's.
until [ "$(metric 'rdbkit_sync_phase{phase="stream"}')" = 1 ]; do
	kill -0 "$syncpid" 2>/dev/null || { cat "$work/sync.err" >&2; exit 1; }
	sleep 0.5
done
until [ "$(metric rdbkit_sync_lag_bytes)" = 0 ]; do sleep 0.2; done

python3 - "$src" "$mport" "$work/samples" <<'PY' &
import socket, sys, time, urllib.request
src, mport, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", src))
f = s.makefile("rb")
def source_offset():
    s.sendall(b"*2\r\n$4\r\nINFO\r\n$11\r\nreplication\r\n")
    n = int(f.readline()[1:])
    body = f.read(n + 2).decode()
    for line in body.splitlines():
        if line.startswith("master_repl_offset:"):
            return int(line.split(":")[1])
def applied():
    with urllib.request.urlopen("http://127.0.0.1:%s/metrics" % mport, timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("rdbkit_sync_applied_offset "):
                return float(line.split()[1])
with open(out, "w") as w:
    while True:
        t = time.time(); o = source_offset()
        w.write("S %.4f %d\n" % (t, o))
        a = applied(); t = time.time()
        w.write("A %.4f %d\n" % (t, a))
        w.flush()
        time.sleep(0.1)
PY
pids+=($!)
sampler=$!

t0=$(date +%s.%N)
redis-benchmark -p "$src" -t set,lpush,hset -P 16 -n "$requests" -r 1000000 -q >"$work/bench.out" 2>&1
t1=$(date +%s.%N)
end=$(redis-cli -p "$src" info replication | tr -d '\r' | awk -F: '$1 == "master_repl_offset" { print $2 }')
SECONDS=0
until [ "$(tail -1 "$work/samples" | awk '$1 == "A" { print ($3 >= '"$end"') }')" = 1 ]; do
	[ "$SECONDS" -lt 300 ] || { echo "sync did not apply the load within 300 s" >&2; exit 1; }
	sleep 0.2
done
kill "$sampler"
tr '\r' '\n' <"$work/bench.out" | grep -E 'requests per second' || true

python3 - "$work/samples" "$t0" "$t1" "$end" <<'PY'
# Samples from the start of the load until the first that applied
# everything the load wrote (the source's PINGs after it are no commands).
import bisect, sys
src, app = [], []
for line in open(sys.argv[1]):
    k, t, v = line.split()
    (src if k == "S" else app).append((float(t), float(v)))
t0, t1, end = float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
ts = [t for t, _ in src]; os_ = [o for _, o in src]
lags, series = [], []
for t, a in app:
    if t < t0:
        continue
    if a >= end:
        drained = t - t1
        break
    i = bisect.bisect_left(os_, a)  # first source sample with offset >= a
    if i == 0:
        lag = 0.0
    elif i == len(os_):
        lag = t - ts[-1]  # not reached in a later source sample: at least this
    else:
        # interpolate when the source's offset passed a
        (ta, oa), (tb, ob) = src[i - 1], src[i]
        tx = ta + (tb - ta) * (a - oa) / (ob - oa) if ob > oa else tb
        lag = max(0.0, t - tx)
    lags.append(lag)
    series.append((t - t0, lag))
worst = sorted(series, key=lambda x: -x[1])[:5]
print("worst: " + ", ".join("%.3f s at +%.1f s" % (l, t) for t, l in worst))
lags.sort()
q = lambda p: lags[min(len(lags) - 1, int(p * len(lags)))]
print("load %.1f s, %d samples: lag median %.3f s, p99 %.3f s, max %.3f s" % (t1 - t0, len(lags), q(0.5), q(0.99), lags[-1]))
print("all %d bytes of the load applied %.2f s after it ended" % (end, drained))
PY
kill -INT "$syncpid"
wait "$syncpid" || true
tail -3 "$work/sync.out"
