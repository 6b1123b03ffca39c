#!/usr/bin/env bash
# Installs the Debian packages lockstep needs to build, test and run its private server stack.
# A no-op when everything is present. Non-interactive; needs root (or sudo) only when
# something is missing. Never starts the system MariaDB/Redis services.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkgconf ccache git
  libmariadb-dev libhiredis-dev
  libboost-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-14 libclang-rt-14-dev  # the runtime: libFuzzer and ASan for fuzz/ (only Recommended by clang-14)
  mariadb-server mariadb-client redis-server redis-tools
  curl procps python3 faketime
  prometheus
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "bootstrap: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "bootstrap: installing ${#missing[@]} missing packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# Debian's maintainer scripts start mariadb/redis system services on 3306/6379. Our stack
# runs private instances; keep the system ones from starting during the install.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod +x "$policy"
  created_policy=1
fi
cleanup() { if [ "$created_policy" = 1 ]; then $SUDO rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "bootstrap: done"
