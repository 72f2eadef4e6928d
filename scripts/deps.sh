#!/usr/bin/env bash
# The Debian packages imgleak needs, in one place: to build and run the demo, and (with --tests)
# what make check needs besides. With --install: as root, installs the missing ones with apt-get;
# otherwise prints the one apt-get line to run.
#   deps.sh [--install] [--tests]
set -eu
install=0
tests=0
for arg in "$@"; do
    case $arg in
    --install) install=1 ;;
    --tests) tests=1 ;;
    *) echo "usage: deps.sh [--install] [--tests]" >&2; exit 2 ;;
    esac
done
PACKAGES=(
    gcc make pkg-config          # the toolchain (gcc brings libasan, libubsan and libtsan)
    g++                          # libstdc++'s demangler for C++ names in the analyzer
    libunwind-dev                # the shim: stack capture
    libelf-dev libdw-dev         # the analyzer: symbols, lines, inlined frames
    libjansson-dev               # the analyzer: reading JSON reports back (gate, diff)
    zlib1g-dev                   # the analyzer: gzip for pprof output
    libjemalloc-dev libjemalloc2 # the shim on top of jemalloc, and its tests
    libcmocka-dev                # unit tests
    jq                           # integration tests read the JSON report
    help2man                     # make install: the man page, made from imgleak --help
    libjpeg62-turbo-dev libpng-dev libgif-dev libwebp-dev libmagickwand-6.q16-dev libcairo2-dev
                                 # workloads: real codec programs with known leaks
    libvips-dev libopencv-core-dev  # workloads: libvips and OpenCV's C API (built-in declared handles)
)
TEST_PACKAGES=(
    golang-go                    # go tool pprof reads imgleak's pprof output
    chromium                     # the HTML report is opened in headless Chromium
    libxml2-utils                # xmllint checks the JUnit XML
    clang libclang-rt-14-dev     # libFuzzer for the snapshot reader's fuzz target
    lld                          # clang's LTO build in the inlined-frames test
    python3                      # the torture suite's Python program
    imagemagick python3-pil      # real programs under the gate: Debian's convert, Pillow
    libvips-tools                # ... and vipsthumbnail: libvips's handles in a program we did not write
    man-db                       # man -l renders the installed page
    lintian zsh                  # make deb is checked by lintian; the zsh completion by zsh -n
    valgrind                     # split.sh holds the leaked/indirect/possible split to memcheck's
)
[ $tests = 1 ] && PACKAGES+=("${TEST_PACKAGES[@]}")
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} = 0 ] && exit 0
if [ $install = 0 ]; then
    echo "missing: ${missing[*]}"
    exit 1
fi
if [ "$(id -u)" != 0 ]; then
    echo "imgleak needs these Debian packages; run:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
