#!/usr/bin/env bash
# Install Debian's SLURM (controller, node daemon, client) and munge for the tests
# that submit trials to a real scheduler (tests/slurm_cluster.py starts a
# throwaway single-node cluster of them; nothing runs as a service).
# Skips when they are already there; never fails the test run (the SLURM tests
# then skip with a loud reason naming what is missing).
set -u
if command -v slurmctld >/dev/null 2>&1 && command -v slurmd >/dev/null 2>&1 \
    && command -v sbatch >/dev/null 2>&1 && command -v munged >/dev/null 2>&1; then
    exit 0
fi
exec bash "$(dirname "$0")/apt-install.sh" install-slurm slurmctld slurmd slurm-client munge
