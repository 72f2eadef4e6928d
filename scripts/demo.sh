#!/usr/bin/env bash
# make demo: runs a representative set of workloads in their leaking mode under imgleak and
# shows what it reports. Snapshots are kept in $B/demo for `imgleak report` afterwards.
set -u
B=${1:-build}
mkdir -p "$B/demo"
for w in magick jpeg webp cairo; do
    echo
    echo "================ imgleak run -- $B/workloads/wl_$w leak"
    "$B/imgleak" run -o "$B/demo/$w" --sites 4 --frames 4 -- "$B/workloads/wl_$w" leak
done
echo
echo "Snapshots are in $B/demo/; e.g. $B/imgleak report --format json $B/demo/jpeg/*.snap"
