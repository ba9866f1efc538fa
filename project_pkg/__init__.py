"""The quick-start project: a sine wave experiment run as mitosis_hydra trials."""
