"""Use cases. Each call opens its own unit of work and owns its transaction."""
