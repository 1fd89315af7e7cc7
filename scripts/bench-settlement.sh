#!/usr/bin/env bash
# Settlement benchmark: a release daemon with 100,000 users, each holding an instance of a
# daily product (fee 500 fen, traffic beyond 1 GiB at 100 fen a GiB) whose cycle has
# ended with 3 GiB used, settles them all through `turnstile settle` while a generator
# keeps sending it Access-Requests. Prints how long the run took and the authentication
# rate before and during it.
#
# Usage: scripts/bench-settlement.sh [instances] [in-flight]
set -euo pipefail
cd "$(dirname "$0")/.."
INSTANCES=${1:-100000}
IN_FLIGHT=${2:-64}
command -v sqlite3 >/dev/null || { echo "bench: sqlite3 is missing: apt-get install sqlite3" >&2; exit 1; }
source scripts/bench-lib.sh
PORT=$(free_port)
API=$(free_port)

write_api_config "$PORT" "$API"
ts() { "$BIN/turnstile" --config "$scratch/turnstile.toml" "$@"; }

for ((i = 0; i < INSTANCES; i++)); do echo "bill$i,pw$i"; done > "$scratch/users.csv"
ts user import "$scratch/users.csv" >/dev/null
ts billing-policy add daily --kind monthly --cycle-fee-fen 500 --included-mib 1024 --fen-per-gib 100 >/dev/null
ts control-policy add daily >/dev/null
ts product add daily --billing-policy daily --control-policy daily --cycle day >/dev/null
# Instances started yesterday (by the daemon's clock, two days ahead below), 3 GiB used,
# 1,000 fen on each; the cycle's end is computed by the settlement run.
sqlite3 "$scratch/data/turnstile.db" <<SQL
INSERT INTO user_products (user_name, product, started_at, cycle_start, cycle_end, balance_fen,
  used_secs, used_in, used_out, logins)
SELECT name, 'daily', strftime('%s', 'now'), strftime('%s', 'now'), 0, 1000,
  36000, 1073741824, 2147483648, 5 FROM users;
SQL
TURNSTILE__GENERAL__CLOCK_OFFSET_SECS=172800 start_turnstile

auth() { # seconds label
  "$BIN/turnstile-bench" --label "$2" --server "127.0.0.1:$PORT" --secret "$SECRET" \
    --users "$INSTANCES" --user-format 'bill{}' --password-format 'pw{}' --warmup-seconds 0 \
    --in-flight "$IN_FLIGHT" --sockets 2 --seconds "$1" --json
}
echo "bench: $INSTANCES instances, authentication at $IN_FLIGHT in flight meanwhile"
auth 5 "auth before" | tee "$scratch/before.json"
auth 20 "auth during settlement" > "$scratch/during.json" &
load=$!
sleep 2
started=$(date +%s.%N)
ts settle --json > "$scratch/settle.json"
ended=$(date +%s.%N)
wait "$load"
cat "$scratch/during.json"
python3 - "$scratch/settle.json" "$started" "$ended" "$scratch/before.json" "$scratch/during.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
wall = float(sys.argv[3]) - float(sys.argv[2])
before, during = (json.load(open(p)) for p in sys.argv[4:6])
print(f"settled {r['settled']} instances in {r['millis']} ms (CLI round trip {wall:.2f} s), "
      f"charged {r['charged_fen']} fen, codes {r['codes']}")
print(f"auth: {before['requests_per_sec']:.0f} req/s before (p99 {before['p99_ms']:.2f} ms), "
      f"{during['requests_per_sec']:.0f} req/s over 20 s around the run (p99 {during['p99_ms']:.2f} ms), "
      f"lost {during['lost']}, rejected {during['rejects']}")
PY
