"""The fake RunPod API for benchmarks, plus a route that reports its request log.

``GET /_bench/calls?route=status&contains=<job id>`` answers ``{"calls": N}``: how many
requests of that route (whose path contains the text) the fake received. Run with
``python -m bench.fake_provider --port P --api-key K --endpoint ID=TYPE``.
"""

from __future__ import annotations

import argparse

from aiohttp import web

from adapters.providers.simulator.engine import SimulatorEngine
from adapters.providers.simulator.runpod_api import FAULTS_KEY, create_fake_runpod_app
from tarsify.domain.models import OutputType


async def _calls(request: web.Request) -> web.Response:
    route = request.query.get("route")
    contains = request.query.get("contains", "")
    records = request.app[FAULTS_KEY].requests
    calls = sum(
        1
        for r in records
        if (route is None or r.route == route) and contains in r.path and r.route != "bench_calls"
    )
    return web.json_response({"calls": calls})


def main(argv: list[str] | None = None) -> None:
    """Serve the fake (jobs finish at once unless their input says otherwise)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--endpoint", action="append", default=[], metavar="ID=TYPE")
    args = parser.parse_args(argv)
    output_types = {}
    for item in args.endpoint:
        endpoint_id, _, kind = item.partition("=")
        output_types[endpoint_id] = OutputType(kind or "JSON")
    engine = SimulatorEngine(queue_delay_s=0.0, run_time_s=0.0)
    app = create_fake_runpod_app(
        engine, args.api_key, list(output_types), output_types=output_types
    )
    app.router.add_get("/_bench/calls", _calls, name="bench_calls")
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
