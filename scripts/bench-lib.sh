# Shared by the benchmark scripts (sourced, not run): a release build, a scratch
# directory removed on exit with every started server, free ports, and FreeRADIUS.
SECRET=bench-secret
BIN=target/release
cargo build --release --quiet --bins
scratch=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$scratch"; }
trap cleanup EXIT

# Prints a turnstile config: data directory $1, RADIUS auth on port $2 and accounting on
# $3 (0: any) for one NAS (127.0.0.1, $SECRET), the store $4 (default: SQLite in the data
# directory), the operator API on $5 (default: off); no portal, no settlement timer, no
# metrics listener, quiet logs.
turnstile_config() {
  cat <<CONF
[general]
data_dir = "$1"
[radius]
auth_port = $2
acct_port = $3
[[radius.clients]]
name = "bench"
address = "127.0.0.1"
secret = "$SECRET"
[policy]
min_auth_interval_secs = 0
[store]
url = "${4:-}"
[api]
listen = "${5:-}"
[portal]
listen = ""
[billing]
settle_at = ""
[telemetry]
metrics_listen = ""
log_level = "warn"
CONF
}

# Writes $scratch/turnstile.toml: RADIUS auth on port $1, no accounting, the operator API
# on port $2.
write_api_config() {
  turnstile_config "$scratch/data" "$1" 0 "" "127.0.0.1:$2" > "$scratch/turnstile.toml"
}

# Starts turnstile on $1/turnstile.toml (default: $scratch), with the binary $2 (default:
# this tree's release build), its pid in TURNSTILE_PID, and waits for its ready line; a
# daemon that does not start stops the bench with its log.
start_turnstile() {
  local dir=${1:-$scratch} binary=${2:-$BIN/turnstile}
  "$binary" --config "$dir/turnstile.toml" serve > "$dir/turnstile.out" 2> "$dir/turnstile.log" &
  TURNSTILE_PID=$!
  pids+=("$TURNSTILE_PID")
  for _ in $(seq 1 100); do grep -q ready "$dir/turnstile.out" && return 0; sleep 0.1; done
  echo "bench: turnstile did not start:" >&2; cat "$dir/turnstile.log" >&2; exit 1
}

free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

need_freeradius() {
  command -v freeradius >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq freeradius >/dev/null
  else
    echo "bench: FreeRADIUS is missing: apt-get install freeradius" >&2; exit 1
  fi
}

# A scratch copy of Debian's FreeRADIUS config in $raddb: no privilege drop, logs and
# run files in the scratch directory, no default sites, no EAP (it needs its own site).
freeradius_scratch_config() {
  raddb="$scratch/raddb"
  cp -rL /etc/freeradius/3.0 "$raddb"
  sed -i -e 's/^\(\s*reject_delay\s*=\).*/\1 0/' \
         -e '/^\s*user\s*=\s*freerad/d' -e '/^\s*group\s*=\s*freerad/d' \
         -e 's|^\(\s*logdir\s*=\).*|\1 '"$scratch"'|' \
         -e 's|^\(\s*run_dir\s*=\).*|\1 '"$scratch"'|' \
         -e 's|^\(\s*radacctdir\s*=\).*|\1 '"$scratch/radacct"'|' \
         "$raddb/radiusd.conf"
  rm -f "$raddb"/sites-enabled/* "$raddb"/mods-enabled/eap
  cat > "$raddb/clients.conf" <<CONF
client bench {
  ipaddr = 127.0.0.1
  secret = $SECRET
}
CONF
}

# Starts FreeRADIUS on $raddb (freeradius_scratch_config) with one accounting site on
# port $1 that runs $2 in preacct and $3 in accounting.
start_freeradius_accounting() {
  cat > "$raddb/sites-enabled/bench" <<CONF
server bench {
  listen {
    type = acct
    ipaddr = 127.0.0.1
    port = $1
    recv_buff = 4194304
  }
  preacct {
    $2
  }
  accounting {
    $3
  }
}
CONF
  freeradius -f -d "$raddb" -l "$scratch/freeradius.log" &
  pids+=($!)
}

# Before the first start of a daemon on $scratch/turnstile.toml: 10,000 users bench0 …
# bench9999 (password pw, also in $scratch/users.csv) whose group's product is priced by
# traffic, so that every Interim-Update and Stop is rated.
rated_users() {
  local ts=("$BIN/turnstile" --config "$scratch/turnstile.toml")
  for ((i = 0; i < 10000; i++)); do echo "bench$i,pw"; done > "$scratch/users.csv"
  "${ts[@]}" user import "$scratch/users.csv" >/dev/null
  "${ts[@]}" billing-policy add metered --kind by-traffic --included-mib 0 --fen-per-gib 100 >/dev/null
  "${ts[@]}" control-policy add metered >/dev/null
  "${ts[@]}" product add metered --billing-policy metered --control-policy metered >/dev/null
  # Before the first start: the starter catalog then keeps this group.
  "${ts[@]}" group add default --default-product metered >/dev/null
}
