#!/usr/bin/env bash
# Side-by-side accounting benchmark: turnstile (every Accounting-Response sent only after
# its record is committed to SQLite, synchronous = FULL) and FreeRADIUS 3.2 (Debian)
# writing its `detail` file (which it does not fsync), answering the same Start /
# Interim-Update / Stop sequences (with session time and octets) from the same generator
# on this machine's loopback. turnstile runs twice: `turnstile` knows the 10,000 users,
# whose group's product is priced by traffic, so every Interim and Stop is rated and its
# usage added to the user's product instance in the same transaction; `unrated` knows no
# users, so nothing is rated (what accounting cost before billing). Rounds alternate
# between the three servers.
#
# Usage: scripts/bench-accounting-vs-freeradius.sh [seconds-per-round] [rounds] [in-flight]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_ROUND=${1:-10}
ROUNDS=${2:-3}
IN_FLIGHT=${3:-256}
source scripts/bench-lib.sh
need_freeradius
command -v sqlite3 >/dev/null || { echo "bench: sqlite3 is missing: apt-get install sqlite3" >&2; exit 1; }

# --- FreeRADIUS: accounting into the detail file ----------------------------------------
FR_PORT=$(free_port)
freeradius_scratch_config
start_freeradius_accounting "$FR_PORT" "" detail

# --- turnstile, rated and unrated -------------------------------------------------------
UN_PORT=$(free_port)
turnstile_config "$scratch/unrated-data" 0 "$UN_PORT" > "$scratch/turnstile.toml"
start_turnstile
TS_PORT=$(free_port)
turnstile_config "$scratch/turnstile-data" 0 "$TS_PORT" > "$scratch/turnstile.toml"
rated_users
# Money enough that no session runs out of it (E3004) during the bench.
sqlite3 "$scratch/turnstile-data/turnstile.db" "UPDATE users SET balance_fen = 1000000000"
start_turnstile

run() { # label port
  "$BIN/turnstile-bench" --mode accounting --label "$1" --server "127.0.0.1:$2" \
    --secret "$SECRET" --users 10000 --user-format 'bench{}' --with-usage \
    --in-flight "$IN_FLIGHT" --sockets 4 --seconds "$SECONDS_PER_ROUND" --json
}
ready() { # port
  "$BIN/turnstile-bench" --mode accounting --server "127.0.0.1:$1" --secret "$SECRET" \
    --user-format probe --in-flight 1 --sockets 1 --seconds 1 --warmup-seconds 0 --json \
    | grep -q '"accepts":[1-9]'
}
for port in "$FR_PORT" "$TS_PORT" "$UN_PORT"; do
  for _ in $(seq 1 100); do ready "$port" && continue 2; sleep 0.2; done
  echo "bench: server on port $port did not answer" >&2; exit 1
done

echo "bench: accounting, $IN_FLIGHT in flight on 4 sockets, ${SECONDS_PER_ROUND}s x $ROUNDS rounds each"
results="$scratch/results.jsonl"
for ((r = 1; r <= ROUNDS; r++)); do
  run turnstile "$TS_PORT" | tee -a "$results"
  run unrated "$UN_PORT" | tee -a "$results"
  run freeradius "$FR_PORT" | tee -a "$results"
done
python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for label in ("turnstile", "unrated", "freeradius"):
    rs = [r for r in rows if r["label"] == label]
    b = max(rs, key=lambda r: r["requests_per_sec"])
    med = sorted(r["requests_per_sec"] for r in rs)[len(rs) // 2]
    print(f"{label:10} best {b['requests_per_sec']:>7.0f} req/s, median {med:>7.0f}  p50 {b['p50_ms']:.2f} ms  "
          f"p99 {b['p99_ms']:.2f} ms  lost {b['lost']}")
rated = [r["requests_per_sec"] for r in rows if r["label"] == "turnstile"]
unrated = [r["requests_per_sec"] for r in rows if r["label"] == "unrated"]
ratios = sorted(a / b for a, b in zip(rated, unrated))
print(f"rated/unrated: best rounds {max(rated) / max(unrated):.3f}, median of rounds "
      f"{ratios[len(ratios) // 2]:.3f} (rounds: {', '.join(f'{x:.3f}' for x in ratios)})")
PY
