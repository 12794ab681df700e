"""Regular expression engines for input schemas (``schema_guard.PatternEngine``)."""
