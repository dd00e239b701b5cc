#!/usr/bin/env bash
# Build every cargo-fuzz target and run each for a bounded time, one process,
# one job, seeded from fuzz/seeds/<target> (copied into fuzz/corpus/<target>,
# where new inputs are kept too); crashes go to fuzz/artifacts/<target>/.
#
# Every seed is first replayed on its own with every check on (regress-*
# are reproducers of fixed dnsward bugs, crash-* of open ones), then each
# target is fuzzed with DNSWARD_FUZZ_SKIP_KNOWN=1, which makes a harness
# skip exactly its open bugs (see README) so a known bug does not end every
# run in its first second; with no open bug it changes nothing.
#
#   fuzz/run.sh                     # every target (fuzz_targets/*.rs), FUZZ_SECS (default 60) each
#   FUZZ_SECS=240 fuzz/run.sh packet config
#   FUZZ_SECS=120 fuzz/run.sh fastpath
#
# Environment:
#   FUZZ_SECS     seconds per target (libFuzzer -max_total_time), default 60
#   FUZZ_OFFLINE  1 (default): build with CARGO_NET_OFFLINE=true, no network;
#                 0: let cargo fetch missing crates (first run on a new machine)
#   FUZZ_ARGS     extra libFuzzer flags, e.g. "-max_len=512"
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
# Exit status: 0 when every seed passed (a crash-* seed may still crash: it
# is a known open bug, reported) and no target crashed, 1 otherwise, 2 on
# build failure.
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

secs="${FUZZ_SECS:-60}"
offline="${FUZZ_OFFLINE:-1}"
triple="$(rustc +nightly -vV | sed -n 's/^host: //p')"
bin_dir="$here/target/$triple/release"
log_dir="$here/target/run-logs"
mkdir -p "$log_dir"

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for f in fuzz_targets/*.rs; do
    targets+=("$(basename "$f" .rs)")
  done
fi

# cargo-fuzz has no --offline flag; cargo reads this instead.
[ "$offline" = 1 ] && export CARGO_NET_OFFLINE=true
echo "== build (${targets[*]})"
for t in "${targets[@]}"; do
  if ! cargo +nightly fuzz build "$t" >"$log_dir/build-$t.log" 2>&1; then
    tail -n 30 "$log_dir/build-$t.log" >&2
    echo "build of $t failed (log: $log_dir/build-$t.log)" >&2
    [ "$offline" = 1 ] && echo "hint: FUZZ_OFFLINE=0 fetches missing crates once" >&2
    exit 2
  fi
done

total=0
crashed=()
echo "== seeds (seeds/<target>/*, regress-* = fixed bugs, crash-* = open bugs), replayed"
replayed=0
failed_seeds=0
known=0
for t in "${targets[@]}"; do
  for f in seeds/"$t"/*; do
    [ -f "$f" ] || continue
    replayed=$((replayed + 1))
    rlog="$log_dir/replay-$t-$(basename "$f").log"
    if "$bin_dir/$t" "$f" >"$rlog" 2>&1; then
      case "$(basename "$f")" in
        crash-*) echo "  $f: no longer crashes (fixed? rename it regress-*, drop its carve-out)" ;;
      esac
    else
      why="$(grep -m1 -A1 'panicked at' "$rlog" | tail -n 1 | cut -c1-150)"
      case "$(basename "$f")" in
        crash-*)
          echo "  $f: still crashes (known open bug): $why"
          known=$((known + 1))
          ;;
        *)
          echo "  $f: FAILS: $why (log: $rlog)"
          failed_seeds=$((failed_seeds + 1))
          ;;
      esac
    fi
  done
done
echo "  $replayed replayed, $failed_seeds failed, $known known open bugs"

echo "== fuzzing, ${secs}s per target"
printf '%-14s %12s %8s %8s  %s\n' target executions exec/s corpus result
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  if [ -d "seeds/$t" ]; then
    for f in "seeds/$t"/*; do
      case "$(basename "$f")" in crash-*) continue ;; esac
      [ -f "$f" ] && [ ! -e "corpus/$t/$(basename "$f")" ] && cp "$f" "corpus/$t/"
    done
  fi
  before="$(ls "artifacts/$t" | wc -l)"
  log="$log_dir/run-$t.log"
  # One process (no -jobs/-workers), bounded by -max_total_time; a single
  # input may take at most 10 s and 2 GiB.
  # shellcheck disable=SC2086
  DNSWARD_FUZZ_SKIP_KNOWN=1 "$bin_dir/$t" "corpus/$t" \
    -max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="artifacts/$t/" ${FUZZ_ARGS:-} >"$log" 2>&1
  rc=$?
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)"
  execs="${execs:-0}"
  total=$((total + execs))
  after="$(ls "artifacts/$t" | wc -l)"
  if [ "$rc" -ne 0 ] || [ "$after" -gt "$before" ]; then
    result="CRASH (exit $rc): $(grep -o 'Test unit written to .*' "$log" | tail -n 1)"
    crashed+=("$t")
  else
    result="no crash"
  fi
  printf '%-14s %12s %8s %8s  %s\n' "$t" "$execs" "${rate:-?}" "$(ls "corpus/$t" | wc -l)" "$result"
done
printf '%-14s %12s\n' total "$total"

if [ "${#crashed[@]}" -gt 0 ]; then
  for t in "${crashed[@]}"; do
    echo
    echo "== $t: $log_dir/run-$t.log"
    grep -E -A 12 "panicked at|ERROR: (libFuzzer|AddressSanitizer)" "$log_dir/run-$t.log" | head -n 40
  done
  echo
  echo "reproduce: $bin_dir/<target> <artifact>  (or cargo +nightly fuzz run <target> <artifact>)"
  exit 1
fi
[ "$failed_seeds" -eq 0 ] || exit 1
