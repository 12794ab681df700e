"""What the fake provider APIs' command lines share: the simulated outputs and the engine."""

from __future__ import annotations

import argparse

from adapters.providers.simulator.engine import SimulatorEngine
from tarsify.domain.models import OutputType


def add_output_type_option(parser: argparse.ArgumentParser, target: str, article: str) -> None:
    """``--output-type TARGET=TYPE`` (repeatable): the simulated output of one target."""
    parser.add_argument(
        "--output-type",
        action="append",
        default=[],
        metavar=f"{target.upper()}=TYPE",
        help=f"simulated output of {article} {target}: IMAGE, AUDIO, TEXT, FILE or JSON "
        "(repeatable)",
    )


def output_types(items: list[str]) -> dict[str, OutputType]:
    """The ``--output-type`` values as a map of target id to output type."""
    types = {}
    for item in items:
        target_id, _, kind = item.partition("=")
        types[target_id] = OutputType(kind.upper())
    return types


def engine_of(args: argparse.Namespace, id_suffix: str) -> SimulatorEngine:
    """The engine of ``--queue-delay``, ``--run-time`` and ``--failure-rate``."""
    return SimulatorEngine(
        queue_delay_s=args.queue_delay,
        run_time_s=args.run_time,
        id_suffix=id_suffix,
        failure_rate=args.failure_rate,
    )
