"""Drift: Evidently-equal statistics, windows over the log, and training baselines."""
