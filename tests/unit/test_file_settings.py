"""File link signing, the file storage settings and their wiring in the container."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from adapters.blobs.filesystem import FilesystemBlobStore
from adapters.blobs.memory import MemoryBlobStore
from adapters.blobs.s3 import S3BlobStore
from adapters.blobs.signing import FileUrlSigner
from entrypoints.callbacks import CallbackUrls
from entrypoints.config import Settings
from entrypoints.container import build_container, resolve
from tarsify.domain.errors import InvalidFileKey
from tarsify.services.files import OutputFiles

SECRET = "a-file-url-secret-that-is-long-enough"


def entries(directory: Path) -> list[Path]:
    return list(directory.iterdir())


def settings(**values: Any) -> Settings:
    return Settings.from_variables(tarsify_jwt_secret=SECRET, **values)


def test_links_verify_until_they_expire() -> None:
    now = [1_000_000.0]
    signer = FileUrlSigner(SECRET, "https://api.example/", now=lambda: now[0])
    url = signer.url("executions/e/0.png", 60)
    assert url.startswith("https://api.example/files/executions/e/0.png?expires=1000060&sig=")
    sig = url.rsplit("sig=", 1)[1]
    assert signer.verify("executions/e/0.png", "1000060", sig)
    assert not signer.verify("executions/e/0.png", "1000061", sig)
    assert not signer.verify("executions/e/1.png", "1000060", sig)
    assert not signer.verify("executions/e/0.png", "1000060", sig.upper())
    assert not signer.verify("executions/e/0.png", "-1", sig)
    for unicode_digits in ("\u00b2", "\uff11\uff10\uff16\uff10", "\u0661\u0660"):  # isdigit()
        assert not signer.verify("executions/e/0.png", unicode_digits, sig)
    now[0] = 1_000_060.0
    assert not signer.verify("executions/e/0.png", "1000060", sig)


def test_file_keys_are_distinct_from_callback_keys_of_the_same_secret() -> None:
    signer = FileUrlSigner(SECRET, "http://x")
    callbacks = CallbackUrls("http://x", SECRET)
    assert signer._key != callbacks._key


def test_defaults_and_derived_values() -> None:
    chosen = settings()
    assert (chosen.files.store, chosen.files.filesystem_root) == ("filesystem", "./data/files")
    assert (chosen.files.url_ttl, chosen.files.retention_days) == (3600, None)
    assert chosen.file_url_signing_secret == SECRET
    assert chosen.server.public_url == "http://127.0.0.1:8000"
    own = settings(file_url_secret="another-secret", public_base_url="https://api.example/")
    assert own.file_url_signing_secret == "another-secret"
    assert own.server.public_url == "https://api.example"


@pytest.mark.parametrize(
    "values",
    [{"blob_store": "s3"}, {"blob_store": "ftp"}, {"file_url_ttl": 0}, {"file_url_ttl": 10**7}],
)
def test_bad_file_settings_are_refused(values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        settings(**values)


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        ({"blob_store": "memory"}, MemoryBlobStore),
        ({"blob_store": "filesystem"}, FilesystemBlobStore),
        (
            {
                "blob_store": "s3",
                "blob_s3_bucket": "b",
                "blob_s3_endpoint_url": "http://127.0.0.1:9",
            },
            S3BlobStore,
        ),
    ],
)
async def test_the_container_builds_the_chosen_store(
    values: dict[str, Any], kind: type, tmp_path: Path
) -> None:
    container = build_container(
        settings(database_url="memory://", blob_filesystem_root=str(tmp_path), **values)
    )
    await resolve(container.init_resources)
    try:
        assert isinstance(await resolve(container.blob_store), kind)
        assert isinstance(await resolve(container.output_files), OutputFiles)
        signer = container.file_url_signer()
        assert (signer is None) == (values["blob_store"] == "s3")
    finally:
        await resolve(container.shutdown_resources)
    assert entries(tmp_path) == []  # nothing is written before a file is stored


def test_the_s3_sdk_is_imported_only_for_s3() -> None:
    code = (
        "import sys, entrypoints.container, entrypoints.http.app; "
        "sys.exit('aiobotocore' in sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


async def test_signing_a_link_touches_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page of history signs a link per file: signing checks the key's form only; the
    paths are resolved (and held under the root) when a file is read or served."""
    store = FilesystemBlobStore(tmp_path, FileUrlSigner(SECRET, "https://api.example"))
    await store.put("executions/e/0.png", b"png", "image/png")

    def no_filesystem(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the filesystem was asked")

    with monkeypatch.context() as patched:
        patched.setattr(Path, "resolve", no_filesystem)
        patched.setattr(Path, "stat", no_filesystem)
        url = await store.url("executions/e/0.png", 60)
    assert url.startswith("https://api.example/files/executions/e/0.png?expires=")
    assert await store.read("executions/e/0.png") == b"png"


async def test_a_symlink_out_of_the_root_is_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "blobs" / "x").mkdir(parents=True)
    (outside / "blobs" / "x" / "0.png").write_bytes(b"secret")
    root = tmp_path / "files"
    store = FilesystemBlobStore(root, FileUrlSigner(SECRET, "https://api.example"))
    await store.put("executions/e/0.png", b"png", "image/png")
    (root / "blobs" / "x").symlink_to(outside / "blobs" / "x")
    (root / "meta" / "x").symlink_to(outside / "blobs" / "x")
    with pytest.raises(InvalidFileKey):
        await store.local_path("x/0.png")
    with pytest.raises(InvalidFileKey):
        await store.read("x/0.png")
    # A link can be signed for it (only its form is checked), never served from outside.
    assert "/files/x/0.png?" in await store.url("x/0.png", 60)
