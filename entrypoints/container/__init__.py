"""The composition root: the only package that names concrete adapter classes.

``Container(settings=Settings(...))`` (or ``build_container()``) wires everything from the
settings. Resources (the SQL engine, the RunPod client, the blob store, the downloader) are
opened by ``await container.init_resources()`` and closed by
``await container.shutdown_resources()``; the HTTP app does both in its startup and cleanup
hooks. Tests swap any provider with ``container.<name>.override(providers.Object(fake))``
and ``reset_override()`` afterwards.

``root.py`` holds the ``Container``; each sibling module holds the factories and resources
of one concern (storage, gpu, files, auth, limits, webhooks, engine).
"""

from entrypoints.container.root import Container, build_container, resolve

__all__ = ["Container", "build_container", "resolve"]
