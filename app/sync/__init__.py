"""Registries and endpoints into the store: ``modeldeck sync`` and the console's background sync."""
