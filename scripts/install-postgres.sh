#!/usr/bin/env bash
# Install Debian's PostgreSQL server for the tests of `mitosis.db=postgresql+psycopg://…`
# (tests/postgres_server.py starts a throwaway cluster of it; nothing runs as a service).
# Skips when a server is already there; never fails the test run (the PostgreSQL
# tests then skip with a loud reason naming what is missing).
set -u
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then
    exit 0
fi
# postgresql-common would create and start a cluster as a service: not wanted here.
export APT_PREPARE="mkdir -p /etc/postgresql-common/createcluster.d && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/mitosis-tests.conf"
exec bash "$(dirname "$0")/apt-install.sh" install-postgres postgresql
