"""Reading results: API, CLI, views, index, reproduce, release; imports any layer."""
