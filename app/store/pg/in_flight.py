"""Which prediction ids an ingest transaction still in flight may yet commit, told to other sessions.

PostgreSQL hands out ids from a sequence, and two ingesters' transactions may commit out of id order: a
row with a lower id can become visible after a reader saw higher ones. Drift's high-water mark
(app/drift/windows.py) may only move past ids no transaction can still commit, so each ``append`` says,
before it takes its ids, the lowest id it could take: a transaction-level advisory lock (shared, so
ingesters never wait for each other) whose key holds the sequence's last value at that moment. Every id
the transaction takes afterwards is at least that (the sequence hands ids out one at a time, CACHE 1 as
schema.py creates it: a session caching a range could hand out ids below a later last value). The lock goes with the transaction (commit, rollback,
a dropped connection), so nothing is left to clean up, and a reader learns the bound from ``pg_locks``
without waiting for any writer.

The key: ``NAMESPACE`` in the top 16 bits (the action locks' keys, app/store/pg/families.lock_key, and the
``hashtext`` keys have other top bits), the id in the low 48.
"""

from __future__ import annotations

NAMESPACE = 0x6D69  # "mi": modeldeck, ids in flight
_ID_BITS = 48

# Run in the append's transaction before its ids are taken (pg_sequence_last_value: NULL before the first
# nextval, whose id is then the sequence's start, 1 or more).
ANNOUNCE = (f"SELECT pg_advisory_xact_lock_shared(({NAMESPACE}::int8 << {_ID_BITS}) | "
            f"least(coalesce(pg_sequence_last_value('predictions_id_seq'), 0), {(1 << _ID_BITS) - 1}))")

# The lowest id an ingest transaction in flight may still commit (NULL: none in flight), from the lock table:
# a key's classid holds the namespace and the id's top 16 bits, its objid the id's low 32 (objsubid 1: a
# single 64-bit key).
LOWEST_IN_FLIGHT = (
    f"SELECT min(((l.classid::int8 & 65535) << 32) | l.objid::int8) FROM pg_locks l "
    f"WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.classid::int8 >> 16 = {NAMESPACE} "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())")
