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
    libglib2.0-dev               # a test of GLib's slice allocator under imgleak run (G_SLICE)
)
TEST_PACKAGES=(
    golang-go                    # go tool pprof reads imgleak's pprof output; the Go workloads (1.19)
    golang-1.23-go               # the Go workloads and tests again with a current Go (bookworm-backports)
    chromium                     # the HTML report is opened in headless Chromium
    libxml2-utils                # xmllint checks the JUnit XML
    clang libclang-rt-14-dev     # libFuzzer for the snapshot reader's fuzz target
    lld                          # clang's LTO build in the inlined-frames test
    python3                      # the torture suite's Python program
    imagemagick python3-pil      # real programs under the gate: Debian's convert, Pillow
    libvips-tools                # ... and vipsthumbnail: libvips's handles in a program we did not write
    libtiff-tools                # ... and tiffcp, tiffinfo: libtiff's TIFFClose ends in tail calls
    man-db                       # man -l renders the installed page
    lintian zsh                  # make deb is checked by lintian; the zsh completion by zsh -n
    valgrind                     # split.sh holds the leaked/indirect/possible split to memcheck's
    time                         # /usr/bin/time: peak memory in scale.sh and make bench-analyzer
)
[ $tests = 1 ] && PACKAGES+=("${TEST_PACKAGES[@]}")
# the Node workload needs node and its headers (<prefix>/include/node): a node already installed
# (NodeSource's nodejs carries its headers) is used as it is, else Debian's
if [ $tests = 1 ] && ! command -v node > /dev/null; then
    PACKAGES+=(nodejs libnode-dev)
fi
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
    printf '%s\n' "${missing[@]}" | grep -q '^golang-1\.2' &&
        echo "(golang-1.23-go is in bookworm-backports: add that suite to apt's sources first)" >&2
    exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# a newer Go comes from bookworm-backports (Debian's own archive; its packages are only ever
# installed by name, never as upgrades): add that suite when no source has it yet
if printf '%s\n' "${missing[@]}" | grep -q '^golang-1\.2' &&
   ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/ &&
   grep -rqs 'bookworm' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    cat > /etc/apt/sources.list.d/imgleak-bookworm-backports.sources <<'EOF_SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF_SOURCES
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
