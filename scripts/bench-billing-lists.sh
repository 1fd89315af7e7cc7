#!/usr/bin/env bash
# Billing-list paging on a release daemon whose settlement log holds ROWS lines (SQLite):
# the first page, the last page reached by `before` (keyset), the last page reached by
# `page` (offset), and one user's last page by `before`, each read REQUESTS times in turn
# by one client. Prints requests/s and latency percentiles for each.
#
# Usage: scripts/bench-billing-lists.sh [rows] [requests]
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-1000000}
REQUESTS=${2:-50}
command -v sqlite3 >/dev/null || { echo "bench: sqlite3 is missing: apt-get install sqlite3" >&2; exit 1; }
source scripts/bench-lib.sh
PORT=$(free_port)
API=$(free_port)
write_api_config "$PORT" "$API"
"$BIN/turnstile" --config "$scratch/turnstile.toml" user add bench --password pw >/dev/null
# Lines of 1,000 users, one in every 1,000 rows each.
sqlite3 "$scratch/data/turnstile.db" <<SQL
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $ROWS)
INSERT INTO settlement_log (at, user_name, product, cycle_start, code, amount_fen, detail)
SELECT 1800000000 + i, 'u' || (i % 1000), 'p', 1800000000, 7003, i, 'bench line ' || i FROM n;
SQL
start_turnstile
TOKEN=$(cat "$scratch/data/api.token")
last_before=$(sqlite3 "$scratch/data/turnstile.db" "SELECT MIN(id) + 100 FROM settlement_log")
user_before=$(sqlite3 "$scratch/data/turnstile.db" \
  "SELECT id FROM settlement_log WHERE user_name = 'u7' ORDER BY id LIMIT 1 OFFSET 100")
last_page=$(( (ROWS + 99) / 100 ))
measure() { # label path
  python3 - "$1" "http://127.0.0.1:$API$2" "$TOKEN" "$REQUESTS" <<'PY'
import http.client, json, sys, time, urllib.parse
label, url, token, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
u = urllib.parse.urlsplit(url)
conn = http.client.HTTPConnection(u.hostname, u.port)
path = u.path + "?" + u.query
times = []
began = time.perf_counter()
for _ in range(n):
    t = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": "Bearer " + token})
    reply = conn.getresponse()
    body = json.loads(reply.read())
    times.append(time.perf_counter() - t)
    assert reply.status == 200 and len(body["data"]["rows"]) == 100, body
elapsed = time.perf_counter() - began
times.sort()
pct = lambda p: times[min(len(times) - 1, int(p * len(times)))] * 1000
print(f"{label:<44} {n / elapsed:8.1f} req/s  p50 {pct(0.50):7.2f} ms  p99 {pct(0.99):7.2f} ms")
PY
}
echo "bench: $ROWS settlement log lines, $REQUESTS requests each, one client"
measure "first page (limit=100)" "/api/v1/settlement-log?limit=100"
measure "last page by before (keyset)" "/api/v1/settlement-log?limit=100&before=$last_before"
measure "last page by page=$last_page (offset)" "/api/v1/settlement-log?limit=100&page=$last_page"
measure "one user's last page by before" "/api/v1/settlement-log?user=u7&limit=100&before=$user_before"
