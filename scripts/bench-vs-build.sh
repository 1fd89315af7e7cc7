#!/usr/bin/env bash
# Side-by-side benchmark of two builds of turnstile: this tree's release build and
# another one's `turnstile` binary (a tree before a change, say), each on its own scratch
# data directory with the same 10,000 users, answering the same PAP Access-Requests
# (with Message-Authenticator) from this tree's load generator. Rounds alternate between
# the builds so that drift in the machine's speed hits both; the median of the per-round
# ratios is printed with each build's best round.
#
# Usage: scripts/bench-vs-build.sh OTHER_BIN_DIR [seconds-per-round] [rounds] [in-flight]
#   e.g. git worktree add /tmp/before HEAD~3 && (cd /tmp/before && cargo build --release)
#        scripts/bench-vs-build.sh /tmp/before/target/release 10 5 256
set -euo pipefail
cd "$(dirname "$0")/.."
OTHER=${1:?usage: scripts/bench-vs-build.sh OTHER_BIN_DIR [seconds] [rounds] [in-flight]}
SECONDS_PER_ROUND=${2:-10}
ROUNDS=${3:-5}
IN_FLIGHT=${4:-256}
USERS=10000
[ -x "$OTHER/turnstile" ] || { echo "bench: no turnstile binary in $OTHER" >&2; exit 1; }
source scripts/bench-lib.sh

for ((i = 0; i < USERS; i++)); do echo "bench$i,pw$i"; done > "$scratch/users.csv"
start_build() { # label binary; sets PORT_<label>
  local dir="$scratch/$1" port
  port=$(free_port)
  mkdir -p "$dir"
  turnstile_config "$dir/data" "$port" 0 > "$dir/turnstile.toml"
  "$2" --config "$dir/turnstile.toml" user import "$scratch/users.csv" >/dev/null
  start_turnstile "$dir" "$2"
  printf -v "PORT_$1" '%s' "$port"
}
start_build this "$BIN/turnstile"
start_build other "$OTHER/turnstile"

run() { # label port
  "$BIN/turnstile-bench" --label "$1" --server "127.0.0.1:$2" --secret "$SECRET" \
    --users $USERS --user-format 'bench{}' --password-format 'pw{}' \
    --in-flight "$IN_FLIGHT" --sockets 4 --seconds "$SECONDS_PER_ROUND" --json
}
echo "bench: this tree vs $OTHER; $USERS users, $IN_FLIGHT in flight on 4 sockets, ${SECONDS_PER_ROUND}s x $ROUNDS rounds each"
results="$scratch/results.jsonl"
for ((r = 1; r <= ROUNDS; r++)); do
  if (( r % 2 )); then
    run this "$PORT_this" | tee -a "$results"; run other "$PORT_other" | tee -a "$results"
  else
    run other "$PORT_other" | tee -a "$results"; run this "$PORT_this" | tee -a "$results"
  fi
done
python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for label in ("this", "other"):
    mine = [r for r in rows if r["label"] == label]
    b = max(mine, key=lambda r: r["requests_per_sec"])
    print(f"{label:6} best {b['requests_per_sec']:>8.0f} req/s  p50 {b['p50_ms']:.2f} ms  "
          f"p99 {b['p99_ms']:.2f} ms  lost {b['lost']}  rejected {b['rejects']}; rounds: "
          + ", ".join(f"{r['requests_per_sec']:.0f}" for r in mine))
this = [r["requests_per_sec"] for r in rows if r["label"] == "this"]
other = [r["requests_per_sec"] for r in rows if r["label"] == "other"]
ratios = sorted(t / max(o, 1) for t, o in zip(this, other))
print(f"ratio this/other: median of rounds {ratios[len(ratios) // 2]:.2f}x "
      f"(rounds: {', '.join(f'{x:.2f}' for x in ratios)})")
PY
