"""Parsing the Prefer header (RFC 7240)."""

from __future__ import annotations

import pytest

from entrypoints.http.prefer import preferences, preferred_wait


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        (["wait=5"], 5),
        (["respond-async, wait=10"], 10),
        (["respond-async,wait=10;foo=bar"], 10),
        (['wait="7"'], 7),
        (["WAIT = 3"], 3),
        (["wait=007"], 7),
        (["wait=0"], 0),
        (["wait=500"], 60),
        (["wait=99999999999999999999"], 60),
        (["wait=2", "wait=9"], 2),  # the first one counts
        (["garbage@@, wait=4"], 4),  # a malformed neighbour spoils only itself
        (['return=minimal; x="a,b", wait=3'], 3),  # commas inside quotes are not separators
        (["wait=abc"], None),
        (["wait=1.5"], None),
        (["wait=-1"], None),
        (['wait=""'], None),
        (["wait"], None),
        (["respond-async"], None),
        ([""], None),
        ([], None),
    ],
)
def test_wait(headers: list[str], wait: int | None) -> None:
    assert preferred_wait(headers, 60) == wait


def test_every_preference_is_read_with_unquoted_values() -> None:
    found = preferences(['respond-async, return=minimal; x=1, handling="le\\"nient"'])
    assert found == {"respond-async": None, "return": "minimal", "handling": 'le"nient'}
