"""One trial: Hydra job, recipe, notebook, kernel, export; imports core and storage."""
