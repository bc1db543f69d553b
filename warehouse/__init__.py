"""The warehouse package: settings, local PostgreSQL, CLI, pipeline, access and sharing."""
