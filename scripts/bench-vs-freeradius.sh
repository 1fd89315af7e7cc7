#!/usr/bin/env bash
# Side-by-side benchmark, in one run: turnstile and FreeRADIUS 3.2 (Debian) answer the
# same PAP Access-Requests (with Message-Authenticator) for the same 10,000 users, from
# the same load generator (target/release/turnstile-bench), on this machine's loopback.
#
# FreeRADIUS runs from a scratch copy of /etc/freeradius/3.0 with the users in its
# `files` module, debug off, reject_delay 0, a 4 MiB receive buffer, and a site that
# does only files + pap. Rounds alternate between the servers so that drift in the
# machine's speed hits both; the best rounds are compared, and the median of the
# per-round ratios is printed too.
#
# Usage: scripts/bench-vs-freeradius.sh [seconds-per-round] [rounds] [in-flight]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_ROUND=${1:-10}
ROUNDS=${2:-3}
IN_FLIGHT=${3:-256}
USERS=10000
source scripts/bench-lib.sh
need_freeradius

# --- users -------------------------------------------------------------------------
: > "$scratch/users.csv"
: > "$scratch/authorize"
for ((i = 0; i < USERS; i++)); do
  echo "bench$i,pw$i" >> "$scratch/users.csv"
  echo "bench$i Cleartext-Password := \"pw$i\"" >> "$scratch/authorize"
done

# --- FreeRADIUS ----------------------------------------------------------------------
FR_PORT=$(free_port)
freeradius_scratch_config
cp "$scratch/authorize" "$raddb/mods-config/files/authorize"
cat > "$raddb/sites-enabled/bench" <<CONF
server bench {
  listen {
    type = auth
    ipaddr = 127.0.0.1
    port = $FR_PORT
    recv_buff = 4194304
  }
  authorize {
    files
    pap
  }
  authenticate {
    Auth-Type PAP {
      pap
    }
  }
}
CONF
freeradius -f -d "$raddb" -l "$scratch/freeradius.log" &
pids+=($!)

# --- turnstile -------------------------------------------------------------------------
TS_PORT=$(free_port)
cat > "$scratch/turnstile.toml" <<CONF
[general]
data_dir = "$scratch/turnstile-data"
[radius]
auth_port = $TS_PORT
acct_port = 0
[[radius.clients]]
name = "bench"
address = "127.0.0.1"
secret = "$SECRET"
[policy]
# Every user logs in many times a second here (FreeRADIUS has no such check).
min_auth_interval_secs = 0
[api]
listen = ""
[telemetry]
metrics_listen = ""
CONF
"$BIN/turnstile" --config "$scratch/turnstile.toml" user import "$scratch/users.csv" >/dev/null
start_turnstile

wait_ready() { # port
  for _ in $(seq 1 100); do
    if "$BIN/turnstile-bench" --server "127.0.0.1:$1" --secret "$SECRET" --user-format bench0 \
        --password-format pw0 --in-flight 1 --sockets 1 --seconds 1 --warmup-seconds 0 --json \
        | grep -q '"accepts":[1-9]'; then return 0; fi
    sleep 0.2
  done
  echo "bench: server on port $1 did not answer" >&2; exit 1
}
wait_ready "$FR_PORT"
wait_ready "$TS_PORT"

run() { # label port
  "$BIN/turnstile-bench" --label "$1" --server "127.0.0.1:$2" --secret "$SECRET" \
    --users $USERS --user-format 'bench{}' --password-format 'pw{}' \
    --in-flight "$IN_FLIGHT" --sockets 4 --seconds "$SECONDS_PER_ROUND" --json
}

echo "bench: $USERS users, $IN_FLIGHT in flight on 4 sockets, ${SECONDS_PER_ROUND}s x $ROUNDS rounds each"
results="$scratch/results.jsonl"
for ((r = 1; r <= ROUNDS; r++)); do
  run turnstile "$TS_PORT" | tee -a "$results"
  run freeradius "$FR_PORT" | tee -a "$results"
done

python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
best = {}
for r in rows:
    if r["label"] not in best or r["requests_per_sec"] > best[r["label"]]["requests_per_sec"]:
        best[r["label"]] = r
for label in ("turnstile", "freeradius"):
    b = best[label]
    print(f"{label:10} {b['requests_per_sec']:>8.0f} req/s  p50 {b['p50_ms']:.2f} ms  p99 {b['p99_ms']:.2f} ms  "
          f"p999 {b['p999_ms']:.2f} ms  lost {b['lost']}  rejected {b['rejects']}")
ratio = best["turnstile"]["requests_per_sec"] / max(best["freeradius"]["requests_per_sec"], 1)
ts = [r["requests_per_sec"] for r in rows if r["label"] == "turnstile"]
fr = [r["requests_per_sec"] for r in rows if r["label"] == "freeradius"]
rounds = sorted(t / max(f, 1) for t, f in zip(ts, fr))
median = rounds[len(rounds) // 2]
print(f"ratio turnstile/freeradius: best {ratio:.2f}x, median of rounds {median:.2f}x "
      f"(rounds: {', '.join(f'{x:.2f}' for x in rounds)})")
PY
