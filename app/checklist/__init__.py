"""The production-readiness checklist: the eight areas, their automatic rules, the report and model cards."""
