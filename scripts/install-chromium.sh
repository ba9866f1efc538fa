#!/usr/bin/env bash
# Install Debian's chromium for the headless-browser test of `mitosis-hydra index`.
# Skips when chromium is already there; never fails the test run (the test then
# skips with a loud reason naming what went wrong).
set -u
if [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1; then
    exit 0
fi
exec bash "$(dirname "$0")/apt-install.sh" install-chromium chromium
