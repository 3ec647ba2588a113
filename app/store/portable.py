"""The families written once for both backends (app/store/dialect.py), attached to a store in one place:
the SQLite ``Store`` and PostgreSQL's ``PgStore`` both mix this in and hand it their ``Db``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.store.alerts import AlertsTable
    from app.store.baselines import BaselinesTable
    from app.store.checklist_table import ChecklistTable
    from app.store.deliveries import DeliveriesTable
    from app.store.dialect import Db
    from app.store.drift_table import DriftTable
    from app.store.metrics import MetricSamples
    from app.store.offsets import OffsetsTable
    from app.store.sync_table import SyncTable
    from app.store.windows import WindowReads


class PortableFamilies:
    portable: "Db"
    checklist: "ChecklistTable"
    baselines: "BaselinesTable"
    drift: "DriftTable"
    alerts: "AlertsTable"
    deliveries: "DeliveriesTable"  # alert notifications sent by `modeldeck watch`
    offsets: "OffsetsTable"  # where `ingest --follow` and `watch` read each file up to
    metrics: "MetricSamples"
    windows: "WindowReads"  # the prediction log read by drift window
    syncs: "SyncTable"  # what registries and endpoints said at the last sync

    def _attach_portable(self, db: "Db") -> None:
        # Imported here, as the stores import their families: only when a store is opened.
        from app.store.alerts import AlertsTable
        from app.store.baselines import BaselinesTable
        from app.store.checklist_table import ChecklistTable
        from app.store.deliveries import DeliveriesTable
        from app.store.drift_table import DriftTable
        from app.store.metrics import MetricSamples
        from app.store.offsets import OffsetsTable
        from app.store.sync_table import SyncTable
        from app.store.windows import WindowReads

        self.portable = db
        self.checklist = ChecklistTable(db)
        self.baselines = BaselinesTable(db)
        self.drift = DriftTable(db)
        self.alerts = AlertsTable(db)
        self.deliveries = DeliveriesTable(db)
        self.offsets = OffsetsTable(db)
        self.metrics = MetricSamples(db)
        self.windows = WindowReads(db)
        self.syncs = SyncTable(db)
