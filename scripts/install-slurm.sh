#!/usr/bin/env bash
# Install Debian's SLURM (controller, node daemon, client, accounting daemon),
# munge, and MariaDB's server binaries for the tests that submit trials to a real
# scheduler (tests/slurm_cluster.py starts a throwaway single-node cluster of
# them, with a private MariaDB for slurmdbd; nothing runs as a service).
# mariadb-server-core has mariadbd and mariadb-install-db without the service
# that mariadb-server would set up; mariadb-client-core has my_print_defaults,
# which mariadb-install-db needs.
# Skips when they are already there; never fails the test run (the SLURM tests
# then skip with a loud reason naming what is missing).
set -u
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
missing=0
for tool in slurmctld slurmd sbatch munged slurmdbd sacct mariadbd mariadb-install-db my_print_defaults; do
    have "$tool" || missing=1
done
[ "$missing" = 0 ] && exit 0
exec bash "$(dirname "$0")/apt-install.sh" install-slurm slurmctld slurmd slurm-client munge \
    slurmdbd mariadb-server-core mariadb-client-core
