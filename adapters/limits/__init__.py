"""Request-rate limits (``RateLimiter``) on the ``limits`` package's strategies and
storages: in-process memory, or Redis shared by every process and node."""
