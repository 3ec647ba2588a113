"""Model cards for the demo models, with the sections of Mitchell et al. (2019), "Model Cards for Model Reporting".

ticket-router's card is deliberately incomplete (no factors, no caveats) so the readiness
checklist has a real failure to show.
"""

from __future__ import annotations

from typing import Any

from app.demo.catalogue import ModelSpec, VersionSpec

SECTIONS = ("Model details", "Intended use", "Factors", "Metrics", "Evaluation data", "Training data",
            "Ethical considerations", "Caveats and recommendations")

_TEXT: dict[str, dict[str, str]] = {
    "fraud-scorer": {
        "Intended use": (
            "Scores every card authorisation for fraud risk in real time. A score of **0.5 or more** holds "
            "the payment for review by the fraud operations team; lower scores pass.\n\n"
            "- Primary users: the authorisation service and fraud analysts.\n"
            "- Out of scope: account-opening fraud, merchant fraud, credit decisions."),
        "Factors": (
            "Performance is reported separately by channel (card present, online, in-app, MOTO), by "
            "country and by merchant category. Online and MOTO payments carry most of the fraud and most "
            "of the false positives."),
        "Metrics": (
            "ROC AUC on the holdout, precision and recall at the 0.5 threshold, and the share of payments "
            "held for review. Serving: p95 latency under 30 ms at 2,000 requests per second."),
        "Evaluation data": (
            "An out-of-time holdout: the most recent 6 weeks of authorisations, with chargebacks matured for "
            "90 days. Fraud labels come from confirmed chargebacks and analyst decisions."),
        "Training data": (
            "13 months of card authorisations from the UK and EU portfolio (about 210 million rows), "
            "negatives down-sampled 1:20. Features are computed by the online feature store, the same code "
            "path as serving."),
        "Ethical considerations": (
            "No protected attributes are used as features. Distance from home and device trust can "
            "correlate with travel and with older devices; false-positive rates are monitored by country "
            "and reported monthly to the model risk committee."),
        "Caveats and recommendations": (
            "Scores drift when the payment mix changes (new merchants, sales events): watch the `amount` "
            "and `merchant_category` drift panels. Retrain at least quarterly. Do not use the score "
            "as a credit signal."),
    },
    "churn-predictor": {
        "Intended use": (
            "Estimates the probability that a subscriber cancels within 60 days. The CRM uses it to choose "
            "retention offers; subscribers scoring 0.5 or more are offered a discount.\n\n"
            "- Out of scope: pricing decisions for individual customers."),
        "Factors": "Results are broken down by plan, payment method and tenure band (< 6, 6-24, > 24 months).",
        "Metrics": "ROC AUC and accuracy on the holdout; calibration (expected calibration error) by decile.",
        "Evaluation data": "Subscribers active on the first day of the last complete quarter, outcome at 60 days.",
        "Training data": "24 months of subscription histories, app usage and support contacts (4.1 million rows).",
        "Ethical considerations": (
            "Retention offers are a benefit: the risk is unequal access to discounts. Offer rates are "
            "reviewed by plan and region each month."),
        "Caveats and recommendations": (
            "Labels mature after 60 days, so live accuracy lags. The v7 shadow is slower; it must not be "
            "promoted before its p95 latency is within 10% of the champion's."),
    },
    "credit-limit": {
        "Intended use": (
            "Proposes the initial credit limit (GBP) for card applications that underwriting has already "
            "approved. An underwriter can override the proposal; the realised limit is the label.\n\n"
            "- Out of scope: the approve / decline decision itself."),
        "Factors": (
            "Errors are reported by income band, employment status, residential status and product. "
            "Students and applicants with thin credit files are monitored separately."),
        "Metrics": "Mean absolute error (GBP) and RMSE on the holdout; share of proposals overridden by underwriters.",
        "Evaluation data": "Applications of the last full quarter with the limit finally granted.",
        "Training data": "Three years of approved applications and bureau data (1.2 million applications).",
        "Ethical considerations": (
            "Regulated credit decision: adverse-impact testing across age bands and sexes (not model inputs) "
            "is run before every release and reviewed by legal."),
        "Caveats and recommendations": (
            "Depends on the feature store and the bureau gateway: a slow dependency shows up first as "
            "timeouts (see the rollback of v3.2.0). Keep the previous version deployable at all times."),
    },
    "ticket-router": {
        "Intended use": (
            "Routes incoming support tickets to one of six queues (billing, technical, account, shipping, "
            "refunds, other) from the subject line and ticket metadata. Agents can re-route; the final "
            "queue is the label."),
        "Metrics": "Top-1 accuracy on the holdout; re-route rate in production.",
        "Evaluation data": "",
        "Training data": "Nine months of English and Spanish tickets with their final queue (640,000 tickets).",
    },
}


def card(spec: ModelSpec, version: VersionSpec, metrics: dict[str, Any]) -> dict[str, str]:
    """The version's card: the model's sections plus version details and its measured metrics."""
    text = _TEXT[spec.name]
    figures = ", ".join(f"{key} {value}" for key, value in metrics.items() if key != "holdout_rows")
    details = (f"**{spec.name} {version.version}**: {spec.info.description}\n\n"
               f"- Owner: {spec.info.owner}\n- Task: {spec.info.task}\n"
               + (f"- Change: {version.note}\n" if version.note else ""))
    sections = {"Model details": details}
    for title in SECTIONS[1:]:
        if title in text:
            body = text[title]
            if title == "Metrics" and body:
                body += f"\n\nThis version, offline: {figures}."
            sections[title] = body
    return sections
