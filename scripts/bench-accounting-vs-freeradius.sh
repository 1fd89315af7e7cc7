#!/usr/bin/env bash
# Side-by-side accounting benchmark: turnstile (every Accounting-Response sent only after
# its record is committed to SQLite, synchronous = FULL) and FreeRADIUS 3.2 (Debian)
# writing its `detail` file (which it does not fsync), answering the same Start /
# Interim-Update / Stop sequences from the same generator on this machine's loopback.
# Rounds alternate between the servers.
#
# Usage: scripts/bench-accounting-vs-freeradius.sh [seconds-per-round] [rounds] [in-flight]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_ROUND=${1:-10}
ROUNDS=${2:-3}
IN_FLIGHT=${3:-256}
source scripts/bench-lib.sh
need_freeradius

# --- FreeRADIUS: accounting into the detail file ----------------------------------------
FR_PORT=$(free_port)
freeradius_scratch_config
cat > "$raddb/sites-enabled/bench" <<CONF
server bench {
  listen {
    type = acct
    ipaddr = 127.0.0.1
    port = $FR_PORT
    recv_buff = 4194304
  }
  preacct {
  }
  accounting {
    detail
  }
}
CONF
freeradius -f -d "$raddb" -l "$scratch/freeradius.log" &
pids+=($!)

# --- turnstile ------------------------------------------------------------------------
TS_PORT=$(free_port)
cat > "$scratch/turnstile.toml" <<CONF
[general]
data_dir = "$scratch/turnstile-data"
[radius]
auth_port = 0
acct_port = $TS_PORT
[[radius.clients]]
name = "bench"
address = "127.0.0.1"
secret = "$SECRET"
[api]
listen = ""
[telemetry]
metrics_listen = ""
log_level = "warn"
CONF
start_turnstile

run() { # label port
  "$BIN/turnstile-bench" --mode accounting --label "$1" --server "127.0.0.1:$2" \
    --secret "$SECRET" --users 10000 --user-format 'bench{}' \
    --in-flight "$IN_FLIGHT" --sockets 4 --seconds "$SECONDS_PER_ROUND" --json
}
ready() { # port
  "$BIN/turnstile-bench" --mode accounting --server "127.0.0.1:$1" --secret "$SECRET" \
    --user-format probe --in-flight 1 --sockets 1 --seconds 1 --warmup-seconds 0 --json \
    | grep -q '"accepts":[1-9]'
}
for port in "$FR_PORT" "$TS_PORT"; do
  for _ in $(seq 1 100); do ready "$port" && continue 2; sleep 0.2; done
  echo "bench: server on port $port did not answer" >&2; exit 1
done

echo "bench: accounting, $IN_FLIGHT in flight on 4 sockets, ${SECONDS_PER_ROUND}s x $ROUNDS rounds each"
results="$scratch/results.jsonl"
for ((r = 1; r <= ROUNDS; r++)); do
  run turnstile "$TS_PORT" | tee -a "$results"
  run freeradius "$FR_PORT" | tee -a "$results"
done
python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for label in ("turnstile", "freeradius"):
    rs = [r for r in rows if r["label"] == label]
    b = max(rs, key=lambda r: r["requests_per_sec"])
    med = sorted(r["requests_per_sec"] for r in rs)[len(rs) // 2]
    print(f"{label:10} best {b['requests_per_sec']:>7.0f} req/s, median {med:>7.0f}  p50 {b['p50_ms']:.2f} ms  "
          f"p99 {b['p99_ms']:.2f} ms  lost {b['lost']}")
PY
