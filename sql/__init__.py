"""The SQL files the pipeline runs. They ship inside the installed package as
``profiling_assets.sql_files`` (see pyproject.toml), found through importlib.resources."""
