"""The PostgreSQL backend of the store (see app/store/pg/store.py)."""
