#!/bin/sh
# The first set-up command: installs what is missing (with apt when root,
# else prints the apt line), builds sweep, runs the quick sweep on the
# default data and prints the comparison.
#   usage: tools/setup.sh [--no-demo] [--test-tools]
# --test-tools also installs valgrind, clang's libFuzzer and chromium, which the
# memcheck, fuzz and report tests need (they say "skipped" without them); CI
# uses it.
set -eu
cd "$(dirname "$0")/.."

demo=1
PACKAGES="gcc make pkg-config libyaml-dev libsqlite3-dev zlib1g-dev sqlite3 dataset-fashion-mnist gnuplot-nox"
for arg in "$@"; do
    case $arg in
    --no-demo) demo=0 ;;
    --test-tools) PACKAGES="$PACKAGES valgrind clang libclang-rt-14-dev chromium fonts-dejavu-core" ;;
    *) echo "usage: tools/setup.sh [--no-demo] [--test-tools]" >&2; exit 2 ;;
    esac
done
missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        echo "setup: installing:$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q
        apt-get install -y -q --no-install-recommends $missing
    else
        echo "setup: missing packages; run as root, then run this again:" >&2
        echo "  sudo apt-get install -y --no-install-recommends$missing" >&2
        exit 1
    fi
fi

make -j"$(nproc)"
[ "$demo" = 1 ] || exit 0
make demo
