"""JSON Lines prediction logs into the store: sources (files, .gz, stdin, follow), parsing and validation, the run."""
