"""The only writer of which version serves: rollback, disable, promotion, and the served-version history."""
