#!/usr/bin/env bash
# A longer crash soak of the vault: the SIGKILL test of tests/vault_crash.rs with many more
# kill cycles, on a release build.
#
#   scripts/vault-soak.sh            # 500 cycles
#   RINGVAULT_CRASH_CYCLES=5000 scripts/vault-soak.sh
#   scripts/vault-soak.sh 3          # three rounds of 500
#
# Each cycle starts `ringvault serve` on a real store, lets four devices push one-row and
# three-row uploads, SIGKILLs the server after 20–300 ms, restarts it and checks that every
# acknowledged upload is present exactly once, none is partial, an upload in flight is wholly
# there or absent (its retry says which), and sum and count equal the plaintext over the
# stored rows.
set -euo pipefail
cd "$(dirname "$0")/.."

cycles="${RINGVAULT_CRASH_CYCLES:-500}"
rounds="${1:-1}"
case "$cycles$rounds" in
  *[!0-9]*) echo "usage: RINGVAULT_CRASH_CYCLES=N $0 [ROUNDS]" >&2; exit 2 ;;
esac

for round in $(seq 1 "$rounds"); do
  echo "vault soak: round $round of $rounds, $cycles SIGKILL cycles"
  start=$(date +%s)
  RINGVAULT_CRASH_CYCLES="$cycles" cargo test --release --test vault_crash -- --nocapture --test-threads 1 sigkill
  echo "vault soak: round $round passed in $(( $(date +%s) - start )) s"
done
