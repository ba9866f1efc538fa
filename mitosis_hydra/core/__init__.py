"""Pure logic over plain data: imports nothing else of mitosis_hydra."""
