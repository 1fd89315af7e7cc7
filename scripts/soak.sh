#!/usr/bin/env bash
# Soak: the soak test (tests/soak.rs) on a release build, for an hour by default. Beside
# its own mixed traffic (logins, accounting Start/Interim-Update/Stop, portal logins and
# logouts, kicks acknowledged by a simulated NAS), turnstile-bench sends bulk logins and
# accounting at fixed rates. Every minute the daemon's resident memory, open files and
# online table are checked; at the end every session begun must have ended once, and the
# bulk senders must have lost nothing. The samples are printed as they come.
#
# Usage: scripts/soak.sh [seconds] [bulk-logins/s] [bulk-accounting/s] [scale]
#   defaults: 3600 s, 20000 logins/s and 5000 accounting requests/s (about half of what
#   one release daemon answers on a 2-core machine with the senders beside it), scale 5
#   (the test's own traffic five times over).
set -euo pipefail
cd "$(dirname "$0")/.."
export TURNSTILE_SOAK_SECS=${1:-3600}
export TURNSTILE_SOAK_BULK_AUTH=${2:-20000}
export TURNSTILE_SOAK_BULK_ACCT=${3:-5000}
export TURNSTILE_SOAK_SCALE=${4:-5}
# A sample a minute; twelve at least on a shorter run.
export TURNSTILE_SOAK_SAMPLE_SECS=${TURNSTILE_SOAK_SAMPLE_SECS:-$(( TURNSTILE_SOAK_SECS >= 720 ? 60 : TURNSTILE_SOAK_SECS / 12 > 5 ? TURNSTILE_SOAK_SECS / 12 : 5 ))}
echo "soak: ${TURNSTILE_SOAK_SECS} s, bulk ${TURNSTILE_SOAK_BULK_AUTH} logins/s and ${TURNSTILE_SOAK_BULK_ACCT} accounting/s, scale ${TURNSTILE_SOAK_SCALE}"
exec cargo test --release --locked --test soak -- --nocapture
