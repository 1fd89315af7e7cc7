#!/usr/bin/env bash
# What the full authorization policy costs: one turnstile, one load generator, two
# populations of 10,000 users, alternating rounds.
#
#   plain  users with only a password (the starter product), PAP requests as in
#          scripts/bench-vs-freeradius.sh;
#   full   users in a group whose product has a by-time billing policy (quota
#          arithmetic) and a control policy (session limit, time window, timeouts,
#          bandwidth), each bound to its MAC, its IP, the NAS and VLAN 100, with IP tables
#          and a MAC blacklist in force; requests carry Calling-Station-Id,
#          Framed-IP-Address and NAS-Port-Id, and the NAS speaks the Huawei dialect, so
#          every Accept carries Session-Timeout, Idle-Timeout, Acct-Interim-Interval,
#          Class and four Huawei rate attributes.
#
# Usage: scripts/bench-policy.sh [seconds-per-round] [rounds] [in-flight]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_ROUND=${1:-10}
ROUNDS=${2:-3}
IN_FLIGHT=${3:-256}
USERS=10000
command -v sqlite3 >/dev/null || { echo "bench: sqlite3 is missing: apt-get install sqlite3" >&2; exit 1; }
source scripts/bench-lib.sh
PORT=$(free_port)

cat > "$scratch/turnstile.toml" <<CONF
[general]
data_dir = "$scratch/data"
[radius]
auth_port = $PORT
acct_port = 0
[[radius.clients]]
name = "bench"
address = "127.0.0.1"
secret = "$SECRET"
vendor = "huawei"
[policy]
# Every user logs in many times a second here.
min_auth_interval_secs = 0
[api]
listen = ""
[telemetry]
metrics_listen = ""
CONF
ts() { "$BIN/turnstile" --config "$scratch/turnstile.toml" "$@" >/dev/null; }

for ((i = 0; i < USERS; i++)); do echo "plain$i,pw$i"; echo "full$i,pw$i"; done > "$scratch/users.csv"
ts user import "$scratch/users.csv"
ts billing-policy add campus --kind by-time --included-hours 720
ts control-policy add campus --max-online 2 --up 2M --down 20M --window 00:00-24:00 \
  --idle-timeout 600 --session-timeout 86400 --interim 300
ts product add campus --billing-policy campus --control-policy campus
ts group add campus --default-product campus
ts ip-table add 10.0.0.0/8
ts ip-table add 192.168.0.0/16 --no-auth
for m in 01 02 03 04 05 06 07 08; do ts blacklist add --mac "02-ff-00-00-00-$m"; done
ts blacklist add --ip 172.16.0.0/12
# Per-user profile and bindings in bulk, straight into the store before the daemon
# starts (the CLI sets them one user at a time).
sqlite3 "$scratch/data/turnstile.db" <<SQL
UPDATE users SET group_name = 'campus', balance_fen = 10000, max_online = 2,
  expires_at = strftime('%s', 'now') + 365 * 86400, consumption_limit_fen = 1000000
  WHERE name LIKE 'full%';
WITH u AS (SELECT name, CAST(substr(name, 5) AS INTEGER) AS i FROM users WHERE name LIKE 'full%')
INSERT INTO user_bindings (user_name, kind, value)
  SELECT name, 'mac', printf('02:00:00:%02x:%02x:%02x', (i >> 16) & 255, (i >> 8) & 255, i & 255) FROM u
  UNION ALL SELECT name, 'ip', printf('10.%d.%d.%d', (i >> 16) & 255, (i >> 8) & 255, i & 255) FROM u
  UNION ALL SELECT name, 'nas', 'bench' FROM u
  UNION ALL SELECT name, 'vlan', '100' FROM u;
SQL

start_turnstile

# The server's CPU time (user + system, in clock ticks): the load generator shares the
# machine, so CPU per request is the steadier measure of what the policy costs.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$TURNSTILE_PID/stat"; }
run() { # label user-prefix [flags]
  local before after line
  before=$(cpu_ticks)
  line=$("$BIN/turnstile-bench" --label "$1" --server "127.0.0.1:$PORT" --secret "$SECRET" \
    --users $USERS --user-format "$2{}" --password-format 'pw{}' --warmup-seconds 0 \
    --in-flight "$IN_FLIGHT" --sockets 4 --seconds "$SECONDS_PER_ROUND" --json "${@:3}")
  after=$(cpu_ticks)
  python3 -c 'import json,sys,os; r=json.loads(sys.argv[1]); t=os.sysconf("SC_CLK_TCK"); r["server_cpu_us_per_request"]=round((int(sys.argv[2])-int(sys.argv[3]))/t*1e6/max(r["sent"],1),2); print(json.dumps(r))' "$line" "$after" "$before"
}
echo "bench: $USERS users per population, $IN_FLIGHT in flight, ${SECONDS_PER_ROUND}s x $ROUNDS rounds each"
results="$scratch/results.jsonl"
for ((r = 1; r <= ROUNDS; r++)); do
  run plain plain | tee -a "$results"
  run full full --with-station | tee -a "$results"
done

python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for label in ("plain", "full"):
    b = max((r for r in rows if r["label"] == label), key=lambda r: r["requests_per_sec"])
    cpu = sorted(r["server_cpu_us_per_request"] for r in rows if r["label"] == label)
    print(f"{label:6} {b['requests_per_sec']:>8.0f} req/s  p50 {b['p50_ms']:.2f} ms  p99 {b['p99_ms']:.2f} ms  "
          f"lost {b['lost']}  rejected {b['rejects']}  server CPU {cpu[len(cpu) // 2]:.2f} us/request (median)")
    if any(r["rejects"] for r in rows if r["label"] == label):
        sys.exit(f"bench: {label} requests were refused; the setup is wrong")
pl = [r["requests_per_sec"] for r in rows if r["label"] == "plain"]
fu = [r["requests_per_sec"] for r in rows if r["label"] == "full"]
ratios = sorted(f / p for p, f in zip(pl, fu))
print(f"throughput full/plain: best {max(fu) / max(pl):.3f}, median of rounds {ratios[len(ratios) // 2]:.3f} "
      f"(rounds: {', '.join(f'{x:.3f}' for x in ratios)})")
cp = [r["server_cpu_us_per_request"] for r in rows if r["label"] == "plain"]
cf = [r["server_cpu_us_per_request"] for r in rows if r["label"] == "full"]
cr = sorted(f / p for p, f in zip(cp, cf))
print(f"server CPU per request full/plain: median of rounds {cr[len(cr) // 2]:.3f} "
      f"(rounds: {', '.join(f'{x:.3f}' for x in cr)})")
PY
