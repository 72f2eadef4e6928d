#!/usr/bin/env bash
# ONNX Runtime is not packaged in Debian 12: this takes libonnxruntime.so.1 from the npm package
# onnxruntime-node (npm pack: the tarball only, no install scripts run) into $B/ort/, where
# tests/integration/declared.sh finds it for its OrtApi test. About 110 MB to download, once.
set -eu
B=${B:-build}
VERSION=${ORT_VERSION:-1.30.0}
mkdir -p "$B/ort"
[ -f "$B/ort/libonnxruntime.so.1" ] && exit 0
command -v npm > /dev/null || { echo "fetch-ort.sh: npm is needed (apt-get install npm)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "onnxruntime-node@$VERSION" > /dev/null)
tar -xzf "$work/onnxruntime-node-$VERSION.tgz" -C "$work" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
cp "$work/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$B/ort/libonnxruntime.so.1"
