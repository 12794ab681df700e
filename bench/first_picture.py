"""Time to the first picture: README's first command, from a fresh clone with no pip
cache, to a PNG from a COMPLETED run.

    python -m bench.first_picture [--ref HEAD] [--runs 3] [--split]

Each run clones this repository (at ``--ref``) into a temporary directory, runs the
first line of README's first ```sh block there with ``PIP_NO_CACHE_DIR=1`` and
``UV_NO_CACHE=1`` (no installer cache; ``PORT`` set to a free port), reads the tokens it
prints, runs the demo's cartoon portrait with ``?wait=10`` and downloads its image.
``--split`` runs the command's parts one after the other (venv, installs, serve) to say
where the time goes; the serve part is further split by what it prints (migrating,
tokens after the seed, serving).
Only the standard library: it measures an install, it must not need one.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"


def first_command(readme: Path) -> str:
    """The first line of README's first ```sh block."""
    text = readme.read_text(encoding="utf-8")
    block = text[text.index("```sh\n") + len("```sh\n") :]
    return block.splitlines()[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _request(url: str, token: str | None = None, body: object = None) -> bytes:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as reply:
        return bytes(reply.read())


def first_png(base: str, token: str) -> int:
    """Run the demo portrait, wait for COMPLETED, download the image; its size."""
    url = f"{base}/api/marketplace/models/cartoon-portraits/run?wait=10"
    execution = json.loads(_request(url, token, {"inputs": {"prompt": "a red fox"}}))["data"]
    while execution["status"] not in ("COMPLETED", "FAILED", "TIMED_OUT", "CANCELLED"):
        time.sleep(0.05)
        status_url = f"{base}/api/consumer/executions/{execution['id']}"
        execution = json.loads(_request(status_url, token))["data"]
    assert execution["status"] == "COMPLETED", execution
    image = _request(execution["output"]["images"][0])
    assert image.startswith(PNG)
    return len(image)


def _serve_and_picture(
    command: str, cwd: Path, env: dict[str, str], start: float
) -> dict[str, float]:
    """Run ``command`` (it ends by serving), time its output lines and the first PNG."""
    marks: dict[str, float] = {}
    proc = subprocess.Popen(
        ["bash", "-c", command],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    tokens: dict[str, str] = {}
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            now = time.monotonic() - start
            if "migrating" in line:
                marks.setdefault("migrating printed", now)
            found = re.search(r"export (\w+_TOKEN)=(\S+)", line)
            if found:
                tokens[found.group(1)] = found.group(2)
                marks.setdefault("tokens printed (seeded)", now)
            if "serving on" in line:
                marks["serving"] = now
                break
        else:
            raise RuntimeError(f"the command ended without serving (exit {proc.wait()})")
        first_png(f"http://127.0.0.1:{env['PORT']}", tokens["CONSUMER_TOKEN"])
        marks["PNG of a COMPLETED run"] = time.monotonic() - start
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    return marks


def one_run(ref: str, split: bool) -> dict[str, float]:
    """One fresh clone, timed; the marks are seconds since the command started."""
    workdir = Path(tempfile.mkdtemp(prefix="tarsify-first-picture-"))
    try:
        clone = workdir / "tarsify"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        subprocess.run(["git", "-C", str(clone), "checkout", "-q", ref], check=True)
        command = first_command(clone / "README.md")
        env = {**os.environ, "PIP_NO_CACHE_DIR": "1", "UV_NO_CACHE": "1", "PORT": str(free_port())}
        env.pop("VIRTUAL_ENV", None)
        start = time.monotonic()
        cpu_before = _children_cpu()
        marks = _timed(command, clone, env, start, split)
        # CPU seconds of every process the command ran (pip, the server...): unlike the
        # wall clock, barely moved by other work on a shared machine.
        marks["CPU"] = _children_cpu() - cpu_before
        return marks
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(
    command: str, clone: Path, env: dict[str, str], start: float, split: bool
) -> dict[str, float]:
    """The marks of one run of ``command`` (its parts one by one when ``split``)."""
    if not split:
        return _serve_and_picture(command, clone, env, start)
    parts = [part.strip() for part in command.split(" && ")]
    marks: dict[str, float] = {}
    for part in parts[:-1]:
        subprocess.run(["bash", "-c", part], cwd=clone, env=env, check=True)
        name = "version check" if " -c " in part else " ".join(part.split()[:3])
        marks[name] = time.monotonic() - start
    marks.update(_serve_and_picture(parts[-1], clone, env, start))
    return marks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", default="HEAD", help="commit of this repository to clone")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--split", action="store_true", help="time venv, the installs and serve apart"
    )
    args = parser.parse_args()
    ref = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", args.ref],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    print(f"first picture from a fresh clone of {ref}, PIP_NO_CACHE_DIR=1 UV_NO_CACHE=1")
    for run in range(1, args.runs + 1):
        marks = one_run(ref, args.split)
        shown = ", ".join(f"{name} {at:.1f} s" for name, at in marks.items())
        print(f"run {run}: {shown}", flush=True)


if __name__ == "__main__":
    main()
