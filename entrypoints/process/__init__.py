"""Process roles: ``serve`` (one process, or a bare ``supervisor`` of N ``http_worker``
processes), the reconciler (``metered_reconciler``) and the upkeep loops, and what
``serve`` checks before it starts (``preflight``)."""
