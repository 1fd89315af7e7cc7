#!/usr/bin/env bash
# Operator API benchmark on a release daemon holding 100,000 users:
#  1. pages of 100 users read at random (`GET /api/v1/users?page=…`), one client;
#  2. users created over the API (`POST /api/v1/users`) by several clients while a
#     generator keeps sending Access-Requests, with the authentication rate beside it.
#
# Usage: scripts/bench-api.sh [users] [api-clients] [radius-in-flight]
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${1:-100000}
CLIENTS=${2:-128}
IN_FLIGHT=${3:-8}
source scripts/bench-lib.sh
PORT=$(free_port)
API=$(free_port)

write_api_config "$PORT" "$API"
ts() { "$BIN/turnstile" --config "$scratch/turnstile.toml" "$@"; }
for ((i = 0; i < USERS; i++)); do echo "u$i,pw$i"; done > "$scratch/users.csv"
ts user import "$scratch/users.csv"
start_turnstile
TOKEN=$(cat "$scratch/data/api.token")
api() { # mode clients seconds label
  "$BIN/turnstile-bench" --mode "$1" --server "127.0.0.1:$API" --token "$TOKEN" \
    --users "$USERS" --user-format 'api{}' --password-format 'pw{}' \
    --in-flight "$2" --seconds "$3" --label "$4" --timeout-ms 5000
}
auth() { # seconds label
  "$BIN/turnstile-bench" --label "$2" --server "127.0.0.1:$PORT" --secret "$SECRET" \
    --users "$USERS" --user-format 'u{}' --password-format 'pw{}' --warmup-seconds 0 \
    --in-flight "$IN_FLIGHT" --sockets 2 --seconds "$1"
}
echo "bench: $USERS users"
api api-page 1 5 "GET /api/v1/users?page=…&limit=100, 1 client"
auth 5 "auth alone ($IN_FLIGHT in flight)"
auth 13 "auth while users are created ($IN_FLIGHT in flight)" > "$scratch/auth.txt" &
load=$!
sleep 1
api api-create "$CLIENTS" 10 "POST /api/v1/users, $CLIENTS clients, auth load beside"
wait "$load"
cat "$scratch/auth.txt"
