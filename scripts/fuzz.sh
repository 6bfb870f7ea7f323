#!/usr/bin/env bash
# Builds and runs every fuzz target (fuzz/, cargo-fuzz on the nightly
# toolchain) for SECONDS each (default 60), starting from the committed seeds
# (fuzz/seeds/<target>/) and the corpus kept between runs (fuzz/corpus/,
# not committed). Exits non-zero when a target crashes or fails one of its
# checks; the input is left in fuzz/artifacts/<target>/ (add it to
# core/tests/fuzz_regressions.rs or adapters/tests/fuzz_regressions.rs).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-60}"
shift || true
if ! rustup toolchain list | grep -q '^nightly'; then
  rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
targets=("$@")
if ((${#targets[@]} == 0)); then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
cargo +nightly fuzz build
failed=()
printf '%-22s %10s %8s %8s %s\n' target runs cov corpus result
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  log="$(mktemp)"
  if cargo +nightly fuzz run "$target" "corpus/$target" "seeds/$target" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 >"$log" 2>&1; then
    result=ok
  else
    result="CRASH (see fuzz/artifacts/$target/)"
    failed+=("$target")
    grep -m1 -A3 -E 'panicked|ERROR: libFuzzer' "$log" >&2 || true
  fi
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo "?")
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || echo "?")
  corpus=$(find "corpus/$target" -type f | wc -l)
  printf '%-22s %10s %8s %8s %s\n' "$target" "$runs" "$cov" "$corpus" "$result"
  rm -f "$log"
done
if ((${#failed[@]})); then
  echo "crashed: ${failed[*]}" >&2
  exit 1
fi
