"""Champion vs challenger/shadow: pairing on the same requests, statistics and promotion gates."""
