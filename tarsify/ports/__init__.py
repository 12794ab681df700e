"""Ports: the interfaces the core needs from the outside world, one module per concern.

``storage`` (the unit of work) and ``repositories``; ``provider`` (the GPU provider and
its callback URL); ``identity``; ``files`` (blob store, downloader); ``webhooks`` (consumer
webhooks going out); ``feed`` (the event feed); ``clock``; ``limits``; ``offload``.
Adapters implement them; the composition root (``entrypoints/container/``) picks which.
Code imports each port from its concern's module.
"""
