"""Prediction-log search: the query language (text -> AST), the public search API, completion and export.

The SQL a query becomes, and running it, belong to the store (``app.store.search_sql``, ``app.store.search``).
"""
