"""Alembic environment and versions for the SQL read models.

There is no alembic.ini: `adapters.sql.migrate` builds the configuration in code with this
package's directory as `script_location`. New versions are hand-written, explicit operations
that run on SQLite and PostgreSQL alike, and must keep `adapters/sql/tables.py` in step (a test
compares the migrated schema with that metadata).
"""
