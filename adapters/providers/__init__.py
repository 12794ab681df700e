"""GPU providers: one package each (a client of its API and a ``GpuProvider``), independent
of each other and of the other adapters."""
