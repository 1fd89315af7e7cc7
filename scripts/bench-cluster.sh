#!/usr/bin/env bash
# Cluster benchmark on a throwaway PostgreSQL (scripts/pg-cluster.sh, fsync on,
# synchronous_commit on), side by side, alternating rounds, with the same generator
# (target/release/turnstile-bench) on this machine's loopback:
#
#   accounting  durable accounting (Start / Interim-Update / Stop with session time and
#               octets, 10,000 users rated by traffic): one turnstile node, alone on the
#               database; FreeRADIUS 3.2 with rlm_sql on PostgreSQL, its stock schema and
#               queries (mods-config/sql/main/postgresql), answering after its query.
#               Then a second node joins: two nodes, each with its own generator (the
#               aggregate is reported), and one node loaded while the other only follows
#               it (reads again every session the first one writes).
#   auth        PAP from memory on a node whose store is PostgreSQL and on one whose store
#               is SQLite: the backend should not show.
#
# Usage: scripts/bench-cluster.sh [seconds-per-round] [rounds] [in-flight]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_ROUND=${1:-10}
ROUNDS=${2:-3}
IN_FLIGHT=${3:-256}
source scripts/bench-lib.sh
need_freeradius
[ -e /etc/freeradius/3.0/mods-config/sql/main/postgresql/schema.sql ] &&
  [ -e /usr/lib/freeradius/rlm_sql_postgresql.so ] || {
  echo "bench: FreeRADIUS's PostgreSQL driver is missing: apt-get install freeradius-postgresql" >&2
  exit 1
}

# --- PostgreSQL -------------------------------------------------------------------------
# Its own directory: the postgres user (as root) cannot enter the scratch directory.
pg=$(mktemp -d)
PG_URL=$(scripts/pg-cluster.sh start "$pg")
pg_stop() { scripts/pg-cluster.sh stop "$pg" || true; rm -rf "$pg"; }
trap 'pg_stop; cleanup' EXIT
PG_PORT=${PG_URL##*:}
psql -q -v ON_ERROR_STOP=1 "$PG_URL/postgres" -c "CREATE DATABASE turnstile" -c "CREATE DATABASE radius"
psql -q -v ON_ERROR_STOP=1 "$PG_URL/radius" \
  -f /etc/freeradius/3.0/mods-config/sql/main/postgresql/schema.sql >/dev/null

# --- FreeRADIUS: accounting into radacct through rlm_sql ------------------------------------
FR_PORT=$(free_port)
freeradius_scratch_config
sed -e 's/^\(\s*dialect\s*=\).*/\1 "postgresql"/' \
    -e 's/^\(\s*driver\s*=\).*/\1 "rlm_sql_${dialect}"/' \
    -e 's/^#\(\s*server\s*=\).*/\1 "127.0.0.1"/' \
    -e "s/^#\(\s*port\s*=\).*/\1 $PG_PORT/" \
    -e 's/^#\(\s*login\s*=\).*/\1 "turnstile"/' \
    -e 's/^#\(\s*password\s*=\).*/\1 ""/' \
    /etc/freeradius/3.0/mods-available/sql > "$raddb/mods-enabled/sql"
start_freeradius_accounting "$FR_PORT" "acct_unique" sql

# --- turnstile: two nodes on PostgreSQL, one on SQLite ------------------------------------
A_AUTH=$(free_port); A_ACCT=$(free_port)
turnstile_config "$scratch/a" "$A_AUTH" "$A_ACCT" "$PG_URL/turnstile" > "$scratch/turnstile.toml"
ts() { "$BIN/turnstile" --config "$scratch/turnstile.toml" "$@" >/dev/null; }
rated_users
# Money enough that no session runs out of it (E3004) during the bench.
psql -q "$PG_URL/turnstile" -c "UPDATE users SET balance_fen = 1000000000"
start_turnstile
# The SQLite node, for auth only.
S_AUTH=$(free_port)
turnstile_config "$scratch/s" "$S_AUTH" 0 > "$scratch/turnstile.toml"
ts user import "$scratch/users.csv"
start_turnstile

# What a round's CPU figures span: the generator's warm-up second (its default) and the
# seconds it counts.
WINDOW=$((SECONDS_PER_ROUND + 1))
TICK=$(getconf CLK_TCK)
# CPU time the hypervisor gave to other guests (steal), in ticks of all CPUs.
steal_ticks() { awk '/^cpu /{print $9}' /proc/stat; }
# CPU time (user + system ticks) of the PostgreSQL server and its backends.
pg_ticks() {
  local postmaster total=0 p
  postmaster=$(head -1 "$pg/data/postmaster.pid")
  for p in "$postmaster" $(pgrep -P "$postmaster"); do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
# Runs the generator; its JSON line gains the share of CPU time stolen meanwhile, which
# on this VM is what makes rounds of the same server differ most, and the CPU time
# PostgreSQL spent meanwhile (all its processes, whoever the client).
bench() { # label mode port [extra…]
  local label=$1 mode=$2 port=$3 steal pg_cpu out
  shift 3
  steal=$(steal_ticks) pg_cpu=$(pg_ticks)
  out=$("$BIN/turnstile-bench" --mode "$mode" --label "$label" --server "127.0.0.1:$port" \
    --secret "$SECRET" --users 10000 --user-format 'bench{}' --password-format pw \
    --in-flight "$IN_FLIGHT" --sockets 4 --seconds "$SECONDS_PER_ROUND" --json "$@")
  steal=$(( ($(steal_ticks) - steal) * 100 / (TICK * $(nproc) * WINDOW) ))
  pg_cpu=$(( ($(pg_ticks) - pg_cpu) * 1000 / TICK ))
  echo "${out%\}},\"steal_pct\":$steal,\"pg_cpu_ms\":$pg_cpu,\"window_s\":$WINDOW}"
}
ready() { # mode port
  "$BIN/turnstile-bench" --mode "$1" --server "127.0.0.1:$2" --secret "$SECRET" \
    --user-format probe --in-flight 1 --sockets 1 --seconds 1 --warmup-seconds 0 --json \
    | grep -q '"accepts":[1-9]\|"rejects":[1-9]'
}
wait_ready() { # mode port…
  local mode=$1 port
  shift
  for port in "$@"; do
    for _ in $(seq 1 100); do ready "$mode" "$port" && continue 2; sleep 0.2; done
    echo "bench: server $mode $port did not answer" >&2; exit 1
  done
}
wait_ready accounting "$FR_PORT" "$A_ACCT"
wait_ready access "$A_AUTH" "$S_AUTH"

# A warm-up pass fills the session tables, then ANALYZE gives the planner their sizes,
# as autovacuum does within a minute or so on a live system. Without it, statements
# prepared on the empty tables of a new database keep plans that scan them whole.
warm_up() { # port…
  local port
  for port in "$@"; do bench warm-up accounting "$port" --with-usage >/dev/null; done
  psql -q "$PG_URL/turnstile" -c ANALYZE
  psql -q "$PG_URL/radius" -c ANALYZE
}
warm_up "$FR_PORT" "$A_ACCT"

echo "bench: $IN_FLIGHT in flight on 4 sockets per generator, ${SECONDS_PER_ROUND}s x $ROUNDS rounds each"
results="$scratch/results.jsonl"
for ((r = 1; r <= ROUNDS; r++)); do
  bench one-node accounting "$A_ACCT" --with-usage | tee -a "$results"
  bench freeradius-sql accounting "$FR_PORT" --with-usage | tee -a "$results"
  bench auth-postgres access "$A_AUTH" | tee -a "$results"
  bench auth-sqlite access "$S_AUTH" | tee -a "$results"
done

# Node b joins: the same database, a copy of a's key file.
mkdir -p "$scratch/b" && cp "$scratch/a/secret.key" "$scratch/b/"
B_AUTH=$(free_port); B_ACCT=$(free_port)
turnstile_config "$scratch/b" "$B_AUTH" "$B_ACCT" "$PG_URL/turnstile" > "$scratch/turnstile.toml"
start_turnstile
wait_ready accounting "$B_ACCT"
warm_up "$B_ACCT"
for ((r = 1; r <= ROUNDS; r++)); do
  bench two-nodes-a accounting "$A_ACCT" --with-usage > "$scratch/a.json" &
  bench two-nodes-b accounting "$B_ACCT" --with-usage > "$scratch/b.json"
  wait %%
  cat "$scratch/a.json" "$scratch/b.json" | tee -a "$results"
  bench one-node-followed accounting "$A_ACCT" --with-usage | tee -a "$results"
done
python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def pg_us(rs, rates):
    # The CPU time spans the generator's warm-up second too (window_s), at about its rate.
    cpu = sum(r["pg_cpu_ms"] for r in rs) * 1000
    n = sum(rate * r["window_s"] for r, rate in zip(rs, rates))
    return cpu / n if n else 0
def report(label, rs):
    b = max(rs, key=lambda r: r["requests_per_sec"])
    med = sorted(r["requests_per_sec"] for r in rs)[len(rs) // 2]
    print(f"{label:17} best {b['requests_per_sec']:>7.0f} req/s, median {med:>7.0f}  "
          f"p50 {b['p50_ms']:.2f} ms  p99 {b['p99_ms']:.2f} ms  lost {b['lost']}  "
          + (f"PostgreSQL {pg_us(rs, [r['requests_per_sec'] for r in rs]):.1f} us CPU/request  "
             if not label.startswith("auth") else "") +
          f"steal by round {'/'.join(str(r['steal_pct']) for r in rs)} %")
for label in ("one-node", "one-node-followed", "freeradius-sql", "auth-postgres", "auth-sqlite"):
    report(label, [r for r in rows if r["label"] == label])
a = [r for r in rows if r["label"] == "two-nodes-a"]
b = [r for r in rows if r["label"] == "two-nodes-b"]
sums = sorted(x["requests_per_sec"] + y["requests_per_sec"] for x, y in zip(a, b))
# Both generators ran at once: a's window holds the CPU time of both nodes' requests.
both = pg_us(a, [x["requests_per_sec"] + y["requests_per_sec"] for x, y in zip(a, b)])
print(f"two-nodes         aggregate best {sums[-1]:>7.0f} req/s, median {sums[len(sums) // 2]:>7.0f} "
      f"(p99 per node {max(x['p99_ms'] for x in a + b):.2f} ms at worst)  "
      f"PostgreSQL {both:.1f} us CPU/request")
PY
