"""The demo: its catalogue and story, generated traffic, live traffic and its serving endpoint."""
