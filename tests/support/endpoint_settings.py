"""Settings that bind every model the demo endpoint serves to it (modeldeck's ``http`` protocol)."""

from __future__ import annotations

from app.config.settings import EndpointConfig, ModelConfig, Settings


def http_settings(handle, *, read_only: bool = False, timeout_s: float = 2.0, **per_model: ModelConfig) -> Settings:
    models = {name: ModelConfig(endpoint=EndpointConfig(kind="http", url=handle.model_url(name), timeout_s=timeout_s))
              for name in handle.state.models}
    models.update(per_model)
    return Settings(read_only=read_only, models=models)
