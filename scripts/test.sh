#!/usr/bin/env bash
# The whole test suite, from a fresh clone on a fresh Debian 12 machine:
#   1. installs missing Debian packages (scripts/bootstrap.sh),
#   2. g++ build (warnings are errors) running every unit + integration test against private
#      MariaDB/Redis servers that ctest starts and stops (fixture `servers`),
#   3. TSan build running the tests labelled `tsan` (our own concurrency code),
#   4. clang-14 -Wthread-safety build of the library,
#   5. the libFuzzer targets (fuzz/, clang-14, ASan+UBSan) over their seed corpora for a
#      fixed number of inputs each (scripts/fuzz.sh --runs).
# Options: --quick (phase 2 only), --asan (adds an ASan+UBSan run of every test),
#          --jobs N (build parallelism; default: nproc).
# Build trees go to build/ci-* inside the checkout (git-ignored). Exit code != 0 on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

quick=0 asan=0 jobs=$(nproc)
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --asan) asan=1 ;;
    --jobs) jobs=$2; shift ;;
    *) echo "test.sh: unknown option $1 (see the header of scripts/test.sh)" >&2; exit 2 ;;
  esac
  shift
done

declare -a summary=()
phase_start=0
begin() { phase_start=$(date +%s); echo; echo "=== phase: $1 ==="; }
end() { local s=$(( $(date +%s) - phase_start )); summary+=("$(printf '%-34s %4ds' "$1" "$s")"); echo "=== $1: ${s}s ==="; }
trap 'echo; echo "=== phase times ==="; printf "%s\n" "${summary[@]}"' EXIT

begin bootstrap
scripts/bootstrap.sh
end bootstrap

configure() {  # dir, extra cmake args...
  local dir=$1; shift
  cmake -S "$ROOT" -B "$dir" -G Ninja -DLOCKSTEP_WERROR=ON "$@" >"$dir.configure.log" 2>&1 ||
    { cat "$dir.configure.log"; return 1; }
}

mkdir -p build
begin "gcc build"
configure build/ci-gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo
ninja -C build/ci-gcc -j "$jobs"
end "gcc build"

begin "gcc tests (unit + integration)"
(cd build/ci-gcc && ctest --output-on-failure --timeout 900)
end "gcc tests (unit + integration)"

if [ "$quick" = 1 ]; then exit 0; fi

begin "tsan build + tests (label tsan)"
# Own ports so a leftover gcc stack can never be mistaken for this one.
configure build/ci-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOCKSTEP_SANITIZE=thread \
  -DLOCKSTEP_BUILD_BENCHMARKS=OFF \
  -DLOCKSTEP_TEST_MARIADB_PORT=24306 -DLOCKSTEP_TEST_REDIS_PORT=27379
ninja -C build/ci-tsan -j "$jobs"
supp=""
for f in src/*/tsan.supp; do [ -f "$f" ] && supp+="$ROOT/$f "; done
tsan_opts="halt_on_error=1 second_deadlock_stack=1"
if [ -n "$supp" ]; then cat $supp > build/ci-tsan/tsan.supp; tsan_opts+=" suppressions=$ROOT/build/ci-tsan/tsan.supp"; fi
(cd build/ci-tsan && TSAN_OPTIONS="$tsan_opts" ctest -L tsan --output-on-failure --timeout 900)
end "tsan build + tests (label tsan)"

begin "clang-14 thread-safety build"
CXX=clang++-14 configure build/ci-clang-tsa -DLOCKSTEP_THREAD_SAFETY=ON \
  -DLOCKSTEP_BUILD_TESTS=OFF -DLOCKSTEP_BUILD_BENCHMARKS=OFF -DLOCKSTEP_BUILD_APPS=OFF
ninja -C build/ci-clang-tsa -j "$jobs"
end "clang-14 thread-safety build"

begin "fuzz (libFuzzer, 20,000 inputs per target)"
scripts/fuzz.sh --runs 20000 --dir build/ci-fuzz
end "fuzz (libFuzzer, 20,000 inputs per target)"

if [ "$asan" = 1 ]; then
  begin "asan+ubsan build + tests"
  configure build/ci-asan -DLOCKSTEP_SANITIZE=address -DLOCKSTEP_BUILD_BENCHMARKS=OFF \
    -DLOCKSTEP_TEST_MARIADB_PORT=25306 -DLOCKSTEP_TEST_REDIS_PORT=28379
  ninja -C build/ci-asan -j "$jobs"
  (cd build/ci-asan && ctest --output-on-failure --timeout 900)
  end "asan+ubsan build + tests"
fi
echo "test.sh: all phases passed"
