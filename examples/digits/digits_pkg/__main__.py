import mitosis_hydra

if __name__ == "__main__":
    mitosis_hydra.main(config_path="conf", config_name="config")
