"""One module per CLI subcommand; ``app.cli`` imports each only when it runs."""
