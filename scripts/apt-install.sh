#!/usr/bin/env bash
# apt-install.sh LABEL PACKAGE...: install Debian packages a group of tests needs.
# Never fails the test run: when it cannot install (no apt-get, not root and no
# sudo, no network), it says so and those tests skip with a loud reason.
set -u
LABEL="$1"
shift
if ! command -v apt-get >/dev/null 2>&1; then
    echo "$LABEL: no apt-get here; install $* yourself to run its tests" >&2
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
        echo "$LABEL: not root and no sudo; its tests will skip" >&2
        exit 0
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null || echo "$LABEL: apt-get update failed" >&2
if [ -n "${APT_PREPARE:-}" ]; then
    $SUDO sh -c "$APT_PREPARE" || echo "$LABEL: preparing failed" >&2
fi
$SUDO apt-get install -y -qq "$@" >/dev/null \
    || echo "$LABEL: apt-get install $* failed; its tests will skip" >&2
exit 0
