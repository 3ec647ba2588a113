"""Helpers shared by more than one test folder or by the benchmarks (bench/ imports them too).

- ``servers``: misbehaving and real serving systems on loopback, stopped by PID.
- ``terminal``: a program run under a pseudo-terminal, as an operator's terminal would run it.
- ``search_records``: random prediction records and a brute-force reading of the query language.
- ``compare_traffic``: champion/challenger traffic with its true pairs.
- ``drift_rows``: feature rows for the drift windows.
- ``endpoint_settings``: settings binding every model to the demo endpoint.

A helper used by one folder only stays in that folder (``tests/tui/fixed_store.py``).
"""
