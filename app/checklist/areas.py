"""The eight production-readiness areas, in the order they are shown."""

from __future__ import annotations

# area id -> title. Ids are stored in the `checklist` table: never rename one.
READINESS_AREAS: dict[str, str] = {
    "model_card": "Model card",
    "benchmarks": "Performance benchmarks",
    "serving": "Serving infrastructure",
    "features": "Feature pipeline",
    "monitoring": "Monitoring",
    "rollback": "Rollback mechanism",
    "logging": "Prediction logging",
    "signoff": "Stakeholder sign-off",
}
