#!/usr/bin/env bash
# Portal logins end to end: N HTTP clients (default 64) taking turns through 20,000 users,
# doing get_challenge + login (measured; the login runs the policy and commits the session
# through the accounting journal before it answers) from a new client address each time.
# With "logout" as third argument, each client logs out after each login and logs in
# again from the same address (so each measured login also pays for a logout's commit).
#
# Usage: scripts/bench-portal.sh [seconds] [clients] [logout]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_ROUND=${1:-10}
CLIENTS=${2:-64}
LOGOUT=()
[ "${3:-}" = logout ] && LOGOUT=(--portal-logout)
source scripts/bench-lib.sh
PORT=$(free_port)
cat > "$scratch/turnstile.toml" <<CONF
[general]
data_dir = "$scratch/data"
[radius]
auth_port = 0
acct_port = 0
[policy]
# Each client logs in many times a second.
min_auth_interval_secs = 0
[portal]
listen = "127.0.0.1:$PORT"
# Every client connects from 127.0.0.1.
logins_per_minute = 0
[api]
listen = ""
[telemetry]
metrics_listen = ""
log_level = "warn"
CONF
# 20,000 users: the clients take turns through them.
USERS=20000
for ((i = 0; i < USERS; i++)); do echo "web$i,pw$i"; done > "$scratch/users.csv"
"$BIN/turnstile" --config "$scratch/turnstile.toml" user import "$scratch/users.csv" >/dev/null
start_turnstile
"$BIN/turnstile-bench" --mode portal --label portal --server "127.0.0.1:$PORT" \
  --users "$USERS" --user-format 'web{}' --password-format 'pw{}' \
  --in-flight "$CLIENTS" --seconds "$SECONDS_PER_ROUND" --json "${LOGOUT[@]}"
