"""Settings: where they come from (no pydantic, for a fast first paint) and their validation (pydantic)."""
