"""Prometheus metrics: one registry per process (or per app in tests), and decorators
that measure ports without changing them."""
