"""The sync engine: pure mapping and decisions, and one runner that performs the effects."""
