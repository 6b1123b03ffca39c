#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang-14, ASan + UBSan) and runs each over its seed
# corpus (fuzz/corpus/<target>/, read only: new inputs go to build/<dir>/corpus/<target>/).
#   scripts/fuzz.sh [SECONDS]        each target for SECONDS (default 60) of fuzzing
#   scripts/fuzz.sh --runs N         each target for N inputs (fuzz_config N/10; the test command)
#   options: --dir DIR (build tree, default build/fuzz), --only TARGET
# Prints each target's executions; exit code != 0 when a target finds a crash, a leak, a
# timeout (> 10 s for one input) or an allocation over 2 GB (the input is left in DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

seconds=60 runs="" dir=build/fuzz only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift ;;
    --dir) dir=$2; shift ;;
    --only) only=$2; shift ;;
    [0-9]*) seconds=$1 ;;
    *) echo "fuzz.sh: unknown argument $1 (see the header of scripts/fuzz.sh)" >&2; exit 2 ;;
  esac
  shift
done

scripts/bootstrap.sh >/dev/null
mkdir -p build "$dir"
CXX=clang++-14 cmake -S "$ROOT" -B "$dir" -G Ninja -DLOCKSTEP_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLOCKSTEP_BUILD_FUZZERS=ON -DLOCKSTEP_BUILD_TESTS=OFF -DLOCKSTEP_BUILD_BENCHMARKS=OFF \
  >"$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; exit 1; }
ninja -C "$dir" lockstep_fuzzers

status=0
for seeds in fuzz/corpus/*/; do
  name=$(basename "$seeds")
  target="fuzz_$name"
  [ -n "$only" ] && [ "$only" != "$target" ] && continue
  out="$dir/corpus/$name"
  mkdir -p "$out" "$dir/artifacts"
  limit=(-max_total_time="$seconds")
  n=$runs
  # fuzz_config loads a whole configuration per input (~8 ms under ASan): a tenth of the runs.
  [ -n "$runs" ] && [ "$target" = fuzz_config ] && n=$(( (runs + 9) / 10 ))
  [ -n "$runs" ] && limit=(-runs="$n" -max_total_time=600)
  if [ -n "$runs" ]; then what="$n inputs"; else what="$seconds s"; fi
  echo "== $target ($what; seeds $seeds)"
  log="$dir/$target.log"
  if "$dir/fuzz/$target" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$dir/artifacts/$target-" "$out" "$seeds" >"$log" 2>&1; then
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    cover=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
    echo "   ok: $execs executions, $cover, corpus $(ls "$out" | wc -l) new + $(ls "$seeds" | wc -l) seeds"
  else
    echo "   FAILED ($target): see $log; the input is in $dir/artifacts/"
    grep -E 'ERROR|SUMMARY|==[0-9]+==' "$log" | head -20 || true
    status=1
  fi
done
exit $status
