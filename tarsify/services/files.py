"""OutputFiles: move the files of a finished execution's output into the blob store, and
show stored outputs with signed URLs.

The engine calls ``offload`` with a COMPLETED job's output before it stores the execution
as COMPLETED, stores the returned output (references instead of file data) and records
the returned files. ``offload`` is idempotent: keys depend only on the execution and the
file's position, so a retry after ``BlobStoreUnavailable`` overwrites what a failed
attempt left.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from typing import Any

from tarsify.domain.errors import OutputDownloadFailed
from tarsify.domain.file_detect import FileSource, find_files
from tarsify.domain.files import (
    FILE_MARKER,
    FileRecord,
    JsonPath,
    chunk_file_key,
    execution_prefix,
    file_key,
    reference,
    references,
    render_output,
    replace_at,
)
from tarsify.domain.jsonsafe import StoredJson
from tarsify.domain.media import choose_type, extension_for
from tarsify.domain.models import BaseModel
from tarsify.ports.files import BlobStore, Downloader

log = logging.getLogger("tarsify.files")
# A reference as JSON text: an object whose one member is "$file" with a string that
# holds no escape (keys never need one), as PostgreSQL writes JSONB (with or without
# spaces). Inside a JSON string a quote is escaped, so this never matches string content.
_MARKER_TOKEN = f'"{FILE_MARKER}"'
_REFERENCE_RE = re.compile(r'\{\s*"\$file"\s*:\s*"([^"\\]*)"\s*\}')


class OutputFiles:
    """Offloads output files to a ``BlobStore`` and renders references as URLs."""

    def __init__(self, blobs: BlobStore, downloader: Downloader, url_ttl_s: int = 3600) -> None:
        self._blobs = blobs
        self._downloader = downloader
        self._url_ttl_s = url_ttl_s

    async def offload(
        self,
        execution_id: uuid.UUID,
        output: Any,
        base_model: BaseModel,
        chunk: int | None = None,
    ) -> tuple[Any, list[FileRecord]]:
        """Store every file of ``output`` and return the output with references in
        their place, and the stored files (in document order).

        ``chunk`` (a streamed chunk's ``seq``) stores the files of that chunk under keys
        of their own, and a file given by URL that cannot be fetched becomes null there
        (a lost preview does not fail the run). Raises ``OutputDownloadFailed`` when a
        file of a final output given by URL cannot be fetched and
        ``BlobStoreUnavailable`` when the store cannot take a file (retry later).
        """
        found = find_files(output, base_model.output_type, base_model.output_format)
        if not found:
            return output, []
        replacements: dict[JsonPath, Any] = {}
        records: list[FileRecord] = []
        for index, (path, source) in enumerate(found):
            try:
                data, content_type = await self._bytes_of(execution_id, source)
            except OutputDownloadFailed:
                if chunk is None:
                    raise
                replacements[path] = None
                continue
            extension = extension_for(content_type)
            if chunk is None:
                key = file_key(execution_id, index, extension)
            else:
                key = chunk_file_key(execution_id, chunk, index, extension)
            stored = await self._blobs.put(key, data, content_type)
            digest = hashlib.sha256(data).hexdigest()
            records.append(FileRecord(stored.key, stored.content_type, stored.size, digest))
            replacements[path] = reference(stored.key)
        log.info(
            "files.offloaded",
            extra={
                "execution_id": str(execution_id),
                "files": len(records),
                "bytes": sum(r.size for r in records),
            },
        )
        return replace_at(output, replacements), records

    async def _bytes_of(self, execution_id: uuid.UUID, source: FileSource) -> tuple[bytes, str]:
        if source.data is not None:
            return source.data, source.content_type or choose_type(source.data)
        if source.url is None:  # pragma: no cover - find_files always sets one
            raise OutputDownloadFailed("Output file has neither data nor URL")
        try:
            download = await self._downloader.fetch(source.url)
        except OutputDownloadFailed as exc:
            # The downloader's messages name the host only: a provider URL may carry
            # credentials in its query.
            log.warning(
                "files.download_failed",
                extra={"execution_id": str(execution_id), "error": exc.message},
            )
            raise
        return download.data, choose_type(download.data, download.content_type)

    async def render(self, execution_id: uuid.UUID, output: Any) -> Any:
        """``output`` with the execution's own file references replaced by signed URLs
        valid for the configured TTL (references to other keys are left alone, so an
        output cannot point at another execution's files)."""
        if isinstance(output, StoredJson):
            if not output.may_contain(FILE_MARKER):
                return output  # no reference in it: shown as stored
            rendered = await self._render_text(execution_id, output.text)
            if rendered is not None:
                return rendered
            output = output.value
        prefix = execution_prefix(execution_id)
        urls: dict[str, str] = {}
        for key in references(output):
            if key.startswith(prefix) and key not in urls:
                urls[key] = await self._blobs.url(key, self._url_ttl_s)
        if not urls:
            return output
        return render_output(output, urls.get)

    async def _render_text(self, execution_id: uuid.UUID, text: str) -> StoredJson | None:
        """The stored output's text with its references replaced in the text itself (no
        decoding, walking and encoding of the document), when every reference in it is
        spelled plainly (``{"$file": "<key>"}``, no escapes); None otherwise."""
        if "\\u" in text:
            return None  # a key may be spelled with escapes
        found = _REFERENCE_RE.findall(text)
        if len(found) != text.count(_MARKER_TOKEN):
            return None  # "$file" in an object that is not a plain reference
        prefix = execution_prefix(execution_id)
        urls: dict[str, str] = {}
        for key in found:
            if key.startswith(prefix) and key not in urls:
                urls[key] = json.dumps(await self._blobs.url(key, self._url_ttl_s))
        if not urls:
            return StoredJson(text)

        def url_of(match: re.Match[str]) -> str:
            return urls.get(match.group(1), match.group(0))

        return StoredJson(_REFERENCE_RE.sub(url_of, text))
