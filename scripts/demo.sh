#!/usr/bin/env bash
# make demo: runs a representative set of workloads in their leaking mode under imgleak, shows
# what it reports, and writes one HTML report over all of them. Snapshots are kept in $B/demo for
# `imgleak report` afterwards.
set -u
B=${1:-build}
rm -rf "$B/demo"
mkdir -p "$B/demo"
for w in magick jpeg webp cairo; do
    echo
    echo "================ imgleak run -- $B/workloads/wl_$w leak"
    "$B/imgleak" run -o "$B/demo/$w" --sites 4 --frames 4 -- "$B/workloads/wl_$w" leak
done
echo
echo "================ a CI gate on the jpeg workload"
"$B/imgleak" gate "$B"/demo/jpeg/*.snap
html=$B/demo/report.html
"$B/imgleak" report --format html -o "$html" "$B"/demo/*/*.snap &&
    echo && echo "HTML report (flame graph, tables, where RSS went): $html"
echo "Snapshots are in $B/demo/; e.g. $B/imgleak report --format json $B/demo/jpeg/*.snap"
exit 0
