"""The command line: one module per command (click), each imported only when it runs."""
