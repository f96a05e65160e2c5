"""The revisions, one module each (alembic loads them by file; this makes them a package)."""
