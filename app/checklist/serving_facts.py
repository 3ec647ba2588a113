"""The Serving area's declared facts (issue 17): autoscaling bounds and the serving image, from the endpoint's
config or from the Kubernetes manifest it points to (a KServe InferenceService, a Deployment, or a
HorizontalPodAutoscaler; JSON as ``kubectl get -o json`` writes it, YAML when PyYAML is installed).

Judged: bounds that make sense (min <= max, max >= 1) and an image pinned by digest (a tag can move under a
running model, so the version that passed its checks is not what runs). Workers actually serving are held
against the declared bounds where the endpoint reports them (TorchServe's management API, carried in
``Health.workers``); where it cannot (MLServer, MLflow, the http protocol) the evidence says so, nothing is guessed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class Facts:
    replicas_min: int | None = None
    replicas_max: int | None = None
    image: str | None = None
    source: str = "config"


class ManifestError(ValueError):
    pass


def _load(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(f"manifest {path}: {exc.strerror or exc}") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml  # optional: only for YAML manifests
        except ImportError:
            raise ManifestError(f"manifest {path}: reading YAML needs PyYAML (or give kubectl's -o json)") from None
        data = yaml.safe_load(text)
    else:
        import orjson

        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise ManifestError(f"manifest {path}: not JSON") from None
    if not isinstance(data, dict):
        raise ManifestError(f"manifest {path}: not an object")
    return data


def _first_image(containers: Any) -> str | None:
    if isinstance(containers, list):
        for container in containers:
            if isinstance(container, dict) and isinstance(container.get("image"), str):
                return container["image"]
    return None


def from_manifest(path: Path) -> Facts:
    data = _load(path)
    kind = data.get("kind")
    spec = data.get("spec") if isinstance(data.get("spec"), dict) else {}
    if kind == "InferenceService":
        predictor = spec.get("predictor") if isinstance(spec.get("predictor"), dict) else {}
        # A custom predictor names its image; a predictor.model (a runtime and a storageUri) names none.
        image = _first_image(predictor.get("containers"))
        return Facts(predictor.get("minReplicas"), predictor.get("maxReplicas"), image, f"InferenceService {path.name}")
    if kind == "Deployment":
        template = spec.get("template") if isinstance(spec.get("template"), dict) else {}
        pod = template.get("spec") if isinstance(template.get("spec"), dict) else {}
        replicas = spec.get("replicas")
        return Facts(replicas, replicas, _first_image(pod.get("containers")), f"Deployment {path.name}")
    if kind == "HorizontalPodAutoscaler":
        return Facts(spec.get("minReplicas"), spec.get("maxReplicas"), None, f"HorizontalPodAutoscaler {path.name}")
    raise ManifestError(f"manifest {path}: kind {kind!r} is not an InferenceService, Deployment or "
                        "HorizontalPodAutoscaler")


def declared(endpoint: Any) -> Facts | None:
    """The endpoint config's own facts, completed by its manifest (the config wins where both say)."""
    config = Facts(getattr(endpoint, "replicas_min", None), getattr(endpoint, "replicas_max", None),
                   getattr(endpoint, "image", None))
    manifest = getattr(endpoint, "manifest", None)
    if manifest is not None:
        read = from_manifest(Path(manifest))
        config = Facts(config.replicas_min if config.replicas_min is not None else read.replicas_min,
                       config.replicas_max if config.replicas_max is not None else read.replicas_max,
                       config.image or read.image, read.source)
    if config.replicas_min is None and config.replicas_max is None and config.image is None:
        return None
    return config


def seen(kind: str, workers: int | None) -> str:
    """What the endpoint says about the workers serving, in the evidence's words."""
    if workers is None:
        return f"workers not reported by {kind}"
    return f"{workers} worker{'' if workers == 1 else 's'} ready (seen on {kind})"


def judge(facts: Facts, *, kind: str = "the endpoint", workers: int | None = None) -> tuple[str, list[str]]:
    """(what is declared and seen, what is wrong with it). ``workers``: ready workers the endpoint reports,
    None when it cannot tell."""
    shown, problems = [], []
    low, high = facts.replicas_min, facts.replicas_max
    if low is not None or high is not None:
        shown.append(f"replicas {low if low is not None else '?'}..{high if high is not None else '?'}")
        if isinstance(low, int) and isinstance(high, int) and low > high:
            problems.append(f"replicas min {low} is over max {high}")
        if isinstance(high, int) and high < 1:
            problems.append("replicas max is 0: nothing would serve")
        # Fewer than the floor is lost capacity (a crashed worker); more than the ceiling is config drift.
        if workers is not None and isinstance(low, int) and workers < low:
            problems.append(f"{workers} worker{'' if workers == 1 else 's'} ready on {kind}, under the declared "
                            f"min {low}")
        if workers is not None and isinstance(high, int) and high >= 1 and workers > high:
            problems.append(f"{workers} workers ready on {kind}, over the declared max {high}")
    if facts.image is not None:
        pinned = bool(_DIGEST.search(facts.image))
        shown.append(f"image {facts.image}" + ("" if pinned else " (not pinned)"))
        if not pinned:
            problems.append(f"image {facts.image} is not pinned by digest (name@sha256:...)")
    return f"declared ({facts.source}): {', '.join(shown)}; {seen(kind, workers)}", problems
