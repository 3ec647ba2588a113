"""modeldeck: a terminal console for running machine-learning models in production.

Everything that is not a Textual screen or widget lives here, one package per capability
(ARCHITECTURE.md). Only ``app.console`` imports Textual.
"""

__version__ = "0.1.0"
