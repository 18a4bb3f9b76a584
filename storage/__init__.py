"""storage: the only package that touches the database (SQLite through sqlite-utils).

Owns: the schema and its numbered migrations (schema.py) and the Store (store.py):
ingest, the reply state machine, queue queries, stats, exports, the audit log;
each source's polling health (health.py); backups (backup.py).
May import: listener, rules, responders (their data types), sqlite-utils.
"""
