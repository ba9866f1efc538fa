"""Sweeps: the launcher engine, worker pool, progress; imports core, storage, run."""
