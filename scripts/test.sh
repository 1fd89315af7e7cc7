#!/usr/bin/env bash
# Runs the whole test suite: formatting, lints, unit tests, and the end-to-end tests twice:
# on the embedded SQLite store, then on a throwaway PostgreSQL cluster (scripts/pg-cluster.sh);
# then each fuzz target for a few seconds when the nightly toolchain is there.
# Installs what the tests need (FreeRADIUS's radclient; wpa_supplicant's eapol_test; the zone database; Chromium,
# chromedriver and a CJK font for the login page's browser test; PostgreSQL's server)
# when it can (root + apt-get); otherwise it says exactly what is missing and stops.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v radclient >/dev/null 2>&1 || need_apt+=(freeradius-utils)
command -v eapol_test >/dev/null 2>&1 || need_apt+=(eapoltest)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
# Without a CJK font the screenshots show the Chinese texts as boxes.
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need_apt+=(fonts-wqy-microhei)
# The daylight-saving tests read the zone database.
[ -e /usr/share/zoneinfo/America/New_York ] || need_apt+=(tzdata)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null 2>&1 ||
  need_apt+=(postgresql)

if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "test.sh: missing Debian package(s): ${need_apt[*]}" >&2
    echo "test.sh: install them (sudo apt-get install ${need_apt[*]}) and run again" >&2
    exit 1
  fi
fi

command -v cargo >/dev/null 2>&1 || { echo "test.sh: cargo (Rust toolchain) is missing" >&2; exit 1; }

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --locked --no-fail-fast
  cargo test --doc --locked
else
  cargo test --locked --no-fail-fast
fi

pg_dir=$(mktemp -d)
trap 'scripts/pg-cluster.sh stop "$pg_dir" || true; rm -rf "$pg_dir"' EXIT
TURNSTILE_TEST_POSTGRES=$(scripts/pg-cluster.sh start "$pg_dir")
export TURNSTILE_TEST_POSTGRES
echo "test.sh: the end-to-end tests again, on PostgreSQL ($TURNSTILE_TEST_POSTGRES)"
# The soak test runs its two minutes on SQLite; one minute here keeps CI short.
export TURNSTILE_SOAK_SECS=60
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --locked --no-fail-fast -E 'kind(test)'
else
  cargo test --locked --no-fail-fast --tests
fi
unset TURNSTILE_SOAK_SECS

# Every fuzz target for a few seconds, from its seeds (scripts/fuzz.sh runs them longer).
# It needs the nightly toolchain; cargo-fuzz is installed when missing.
if rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "test.sh: each fuzz target for 10 s (a quick build without AddressSanitizer)"
  FUZZ_QUICK=1 scripts/fuzz.sh 10
else
  echo "test.sh: the nightly toolchain is missing, so the fuzz targets were not run" \
    "(rustup toolchain install nightly)"
fi
