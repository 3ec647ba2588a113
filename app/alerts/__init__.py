"""Alert rules and the monitor: ONE function refreshes a model's drift windows and judges its rules."""
