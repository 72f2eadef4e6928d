#!/usr/bin/env bash
# A version manager's shim, the way pyenv's is made: subshells and helper programs find the
# interpreter, then the script execs into it.
set -e
here=$(cd "$(dirname "$0")" && pwd)
name=$(basename "$(readlink -f "$0")")
version=$(echo "3.11" | tr -d ' ')
[ -n "$name" ] && [ -n "$version" ] && [ -n "$here" ]
exec /usr/bin/python3 "$@"
