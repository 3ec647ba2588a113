"""Prediction-log search: the query language (text -> AST), its SQL, completion and export."""
