"""modeldeck: a terminal console for running machine-learning models in production.

Everything that is not a Textual screen or widget lives here. Only ``app.tui`` imports Textual.
"""

__version__ = "0.1.0"
