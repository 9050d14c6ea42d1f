"""Herald's database layer: models, engine, migrations and repository functions."""
