"""``$ref`` rules of input schemas: local, resolvable, and never looping in place.

jsonschema resolves references lazily, while validating: a remote reference would make
it fetch a URL, a dangling one raises, and a reference that comes back to itself without
descending into the input (``{"$ref": "#"}``, or ``a -> b -> a`` definitions) recurses
until Python gives up. So every reference is resolved here, once, when a schema is given.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator
from typing import Any

Violation = dict[str, str]
Path = tuple[str, ...]

# Keywords whose subschemas apply to the same instance (no input consumed on the way).
_SAME_LISTS = ("allOf", "anyOf", "oneOf")
_SAME_ONE = ("not", "if", "then", "else")
_SAME_MAPS = ("dependentSchemas",)
# Keywords whose subschemas apply to a part of the instance (or to nothing at all).
_CHILD_ONE = (
    "items",
    "additionalItems",
    "additionalProperties",
    "contains",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "contentSchema",
)
_CHILD_LISTS = ("prefixItems", "items")
_CHILD_MAPS = ("properties", "patternProperties", "$defs", "definitions")
_UNSUPPORTED = ("$dynamicRef", "$recursiveRef")
# Inputs are checked with the 2020-12 dialect and this process's pattern engine and time
# budget. jsonschema switches to its stock validator of the dialect a schema names with
# ``$schema`` when it descends into that schema: no budget, Python's backtracking ``re``.
DIALECT = "https://json-schema.org/draft/2020-12/schema"
_DIALECTS = (DIALECT, DIALECT + "#")
# An array index of a JSON pointer (RFC 6901): ASCII digits, no leading zero.
_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]{0,8}")


def _field(path: Path, key: str) -> str:
    return ".".join(("inputSchema", *path, key))


def _subschemas(node: dict[str, Any], path: Path) -> Iterator[tuple[Any, Path, bool]]:
    """(subschema, its path, applies to the same instance) for each subschema keyword."""
    for same, singles, lists, maps in (
        (True, _SAME_ONE, _SAME_LISTS, _SAME_MAPS),
        (False, _CHILD_ONE, _CHILD_LISTS, _CHILD_MAPS),
    ):
        for key in singles:
            if isinstance(node.get(key), dict):
                yield node[key], (*path, key), same
        for key in lists:
            if isinstance(node.get(key), list):
                for i, sub in enumerate(node[key]):
                    yield sub, (*path, key, str(i)), same
        for key in maps:
            if isinstance(node.get(key), dict):
                for name, sub in node[key].items():
                    yield sub, (*path, key, str(name)), same


def resolve(root: Any, ref: str) -> tuple[Any, Path]:
    """The schema a local JSON pointer reference (``#`` or ``#/a/b``) names, and its path.

    Raises ``LookupError`` with the reason when it names nothing or is not local.
    """
    if not ref.startswith("#"):
        raise LookupError("only local references ('#' or '#/...') are allowed")
    # The validator (``referencing``) reads a fragment as a JSON pointer only when it
    # starts with a literal "/", and percent-decodes it after that: an encoded first
    # "/" (``#%2F...``) would name an anchor there. Same reading here, so what is
    # accepted now is what resolves on every run.
    if len(ref) > 1 and not ref.startswith("#/"):
        raise LookupError("only JSON pointer references ('#/...') are allowed")
    fragment = urllib.parse.unquote(ref[1:])
    node: Any = root
    path: Path = ()
    for token in fragment.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and _ARRAY_INDEX.fullmatch(token) and int(token) < len(node):
            node = node[int(token)]
        else:
            raise LookupError("points to nothing in this schema")
        path = (*path, token)
    if not isinstance(node, dict | bool):
        raise LookupError("does not point to a schema")
    return node, path


def _walk(root: dict[str, Any]) -> tuple[dict[int, tuple[Any, Path]], list[Violation]]:
    """Every schema reachable from the root (by keyword or reference), and ref problems."""
    seen: dict[int, tuple[Any, Path]] = {}
    problems: list[Violation] = []
    if "$schema" in root and root["$schema"] not in _DIALECTS:
        problems.append({"field": _field((), "$schema"), "message": f"must be {DIALECT}"})
    todo: list[tuple[Any, Path]] = [(root, ())]
    while todo:
        node, path = todo.pop()
        if not isinstance(node, dict) or id(node) in seen:
            continue
        seen[id(node)] = (node, path)
        if path and "$id" in node:
            problems.append({"field": _field(path, "$id"), "message": "only the root may set $id"})
        if path and "$schema" in node:
            problems.append(
                {"field": _field(path, "$schema"), "message": "only the root may name a dialect"}
            )
        for key in _UNSUPPORTED:
            if key in node:
                problems.append({"field": _field(path, key), "message": "is not supported"})
        if "$ref" in node:
            ref = node["$ref"]
            try:
                if not isinstance(ref, str):
                    raise LookupError("must be a string")
                target = resolve(root, ref)
                if not target[1] and "$schema" in root:
                    message = "refers to the root, which names a dialect ($schema): remove one"
                    problems.append({"field": _field(path, "$ref"), "message": message})
                todo.append(target)
            except LookupError as exc:
                problems.append({"field": _field(path, "$ref"), "message": str(exc)})
        todo.extend((sub, sub_path) for sub, sub_path, _ in _subschemas(node, path))
    return seen, problems


def _same_instance(root: dict[str, Any], node: dict[str, Any], path: Path) -> Iterator[Any]:
    for sub, _, same in _subschemas(node, path):
        if same and isinstance(sub, dict):
            yield sub
    ref = node.get("$ref")
    if isinstance(ref, str):
        target, _ = resolve(root, ref)
        if isinstance(target, dict):
            yield target


def _loops(root: dict[str, Any], nodes: dict[int, tuple[Any, Path]]) -> list[Violation]:
    """References that lead back to a schema on the same instance (iterative DFS)."""
    done: set[int] = set()
    problems: list[Violation] = []
    for start, _ in nodes.values():
        if id(start) in done:
            continue
        on_path: set[int] = {id(start)}
        stack = [(start, _same_instance(root, start, nodes[id(start)][1]))]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                on_path.discard(id(node))
                done.add(id(node))
            elif id(child) in on_path:
                problems.append(_loop_problem(stack, child, nodes))
            elif id(child) not in done:
                on_path.add(id(child))
                stack.append((child, _same_instance(root, child, nodes[id(child)][1])))
    return problems


def _loop_problem(
    stack: list[tuple[Any, Iterator[Any]]], back_to: Any, nodes: dict[int, tuple[Any, Path]]
) -> Violation:
    # JSON has no cycles of its own: some schema on the loop holds the $ref that closes it.
    loop = [node for node, _ in stack[[id(n) for n, _ in stack].index(id(back_to)) :]]
    holder = next((n for n in loop if isinstance(n.get("$ref"), str)), loop[-1])
    return {
        "field": _field(nodes[id(holder)][1], "$ref"),
        "message": "leads back to itself without descending into the input",
    }


def ref_problems(schema: Any) -> list[Violation]:
    """Why the ``$ref`` references of ``schema`` cannot be used safely (empty when fine)."""
    if not isinstance(schema, dict):
        return []
    nodes, problems = _walk(schema)
    if not problems:
        problems = _loops(schema, nodes)
    return sorted(problems, key=lambda p: (p["field"], p["message"]))


def ref_targets(schema: Any) -> list[Path]:
    """The path of every schema a resolvable ``$ref`` in ``schema`` points to."""
    if not isinstance(schema, dict):
        return []
    targets = []
    for node, _ in _walk(schema)[0].values():
        try:
            targets.append(resolve(schema, node["$ref"])[1])
        except (KeyError, TypeError, LookupError):
            continue
    return targets
