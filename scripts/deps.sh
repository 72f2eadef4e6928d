#!/usr/bin/env bash
# The Debian packages imgleak needs to build and test, in one list. With --install: as root,
# installs the missing ones with apt-get; otherwise prints the one apt-get line to run.
set -eu
PACKAGES=(
    gcc make pkg-config          # the toolchain (gcc brings libasan, libubsan and libtsan)
    libunwind-dev                # the shim: stack capture
    libelf-dev libdw-dev         # the analyzer: symbols, lines, inlined frames
    libjemalloc-dev libjemalloc2 # the shim on top of jemalloc, and its tests
    libcmocka-dev                # unit tests
    jq                           # integration tests read the JSON report
    libjpeg62-turbo-dev libpng-dev libgif-dev libwebp-dev libmagickwand-6.q16-dev libcairo2-dev
                                 # workloads: real codec programs with known leaks
)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} = 0 ] && exit 0
if [ "${1:-}" != --install ]; then
    echo "missing: ${missing[*]}"
    exit 1
fi
if [ "$(id -u)" != 0 ]; then
    echo "imgleak needs these Debian packages; run:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
