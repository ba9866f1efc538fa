#!/usr/bin/env bash
# Install Debian's PostgreSQL server for the tests of `mitosis.db=postgresql+psycopg://…`
# (tests/postgres_server.py starts a throwaway cluster of it; nothing runs as a service).
# Skips when a server is already there; never fails the test run (the PostgreSQL
# tests then skip with a loud reason naming what is missing).
set -u
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-postgres: no apt-get here; install a PostgreSQL server to run its tests" >&2
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
        echo "install-postgres: not root and no sudo; the PostgreSQL tests will skip" >&2
        exit 0
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null || echo "install-postgres: apt-get update failed" >&2
# postgresql-common would create and start a cluster as a service: not wanted here.
$SUDO mkdir -p /etc/postgresql-common/createcluster.d
echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.d/mitosis-tests.conf >/dev/null
$SUDO apt-get install -y -qq postgresql >/dev/null \
    || echo "install-postgres: apt-get install postgresql failed; its tests will skip" >&2
exit 0
