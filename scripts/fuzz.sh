#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets/, cargo-fuzz and libFuzzer) for N seconds,
# one after the other, on a corpus that starts from the seeds of fuzz/seeds.py and keeps
# what the fuzzer finds (fuzz/corpus/, not in git). A crash stops the run with the
# input that caused it (fuzz/artifacts/TARGET/); each such input becomes a regression
# test beside the code it broke.
#
#   scripts/fuzz.sh                 # each target for 60 s
#   scripts/fuzz.sh 600             # each target for 10 minutes
#   scripts/fuzz.sh 30 access_request srun_codec
#   FUZZ_QUICK=1 scripts/fuzz.sh 10  # a debug build without AddressSanitizer: builds in
#                                    # a few minutes instead of ten (scripts/test.sh)
#
# Needs the nightly toolchain (rustup toolchain install nightly) and cargo-fuzz, which
# this script installs when missing (cargo install cargo-fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-60}
shift || true
rustup run nightly rustc --version >/dev/null 2>&1 || {
  echo "fuzz: the nightly toolchain is missing: rustup toolchain install nightly" >&2
  exit 1
}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked --quiet
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo +nightly fuzz list)
build=()
[ -z "${FUZZ_QUICK:-}" ] || build=(--dev --sanitizer none)
python3 fuzz/seeds.py fuzz/corpus
cargo +nightly fuzz build "${build[@]}"
mkdir -p fuzz/logs
# The targets' daemons keep their files under the temporary directory: one for this run,
# removed when it ends.
TMPDIR=$(mktemp -d -t turnstile-fuzz.XXXXXX)
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT
for t in "${targets[@]}"; do
  echo "fuzz: $t for ${SECONDS_PER_TARGET}s"
  if ! cargo +nightly fuzz run "${build[@]}" "$t" "fuzz/corpus/$t" -- -max_total_time="$SECONDS_PER_TARGET" \
      -rss_limit_mb=2048 -print_final_stats=1 > "fuzz/logs/$t.log" 2>&1; then
    tail -40 "fuzz/logs/$t.log" >&2
    echo "fuzz: $t failed; the input is in fuzz/artifacts/$t/, the log in fuzz/logs/$t.log" >&2
    exit 1
  fi
  grep -E "^stat::(number_of_executed_units|peak_rss_mb)|^Done" "fuzz/logs/$t.log" | tr '\n' ' '
  echo
done
echo "fuzz: every target ran ${SECONDS_PER_TARGET}s without a failure"
