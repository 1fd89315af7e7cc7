#!/usr/bin/env bash
# Runs the whole test suite: formatting, lints, unit and end-to-end tests.
# Installs what the tests need (FreeRADIUS's radclient; Chromium, chromedriver and a CJK
# font for the login page's browser test) when it can (root + apt-get); otherwise it says
# exactly what is missing and stops.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v radclient >/dev/null 2>&1 || need_apt+=(freeradius-utils)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
# Without a CJK font the screenshots show the Chinese texts as boxes.
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need_apt+=(fonts-wqy-microhei)

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
