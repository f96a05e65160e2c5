"""The store tests' PostgreSQL fixtures (``postgres_url``, ``postgres_store``,
``fresh_postgres_url``, ``empty_postgres_url``) live in ``tests/postgres_fixtures.py`` and
come through ``tests/conftest.py``; the engine tests use the same schemas code."""
