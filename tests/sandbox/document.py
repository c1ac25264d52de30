"""Tango's OpenAPI document (``docs/tango/``) as the tests read it: operations found by method and
path, and answers (or request bodies) validated against the schema the document gives them."""

from __future__ import annotations

import copy
import json
import re
import sys
import unicodedata
from functools import cache
from pathlib import Path
from typing import Any

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "tango" / "tango-raas-openapi.json"
METHODS = ("get", "post", "put", "patch", "delete")


@cache
def load() -> dict[str, Any]:
    doc = json.loads(DOCUMENT.read_text())
    _python_patterns(doc)
    return _one_of_as_any_of(doc)


def operations() -> list[tuple[str, str]]:
    """Every (METHOD, path template) of the document."""
    return [
        (method.upper(), path)
        for path, ops in load()["paths"].items()
        for method in ops
        if method in METHODS
    ]


def operations_with_body() -> list[tuple[str, str]]:
    """Every (METHOD, path template) that takes a request body."""
    paths = load()["paths"]
    return [(m, p) for m, p in operations() if "requestBody" in paths[p][m.lower()]]


def _python_patterns(doc: dict[str, Any]) -> None:
    """``\\p{L}``-style classes (one pattern, ``CreateCustomerCriteria.displayName``) are not
    readable by Python's ``re``: spell them out as the code-point ranges they stand for."""
    for schema in doc["components"]["schemas"].values():
        for prop in schema.get("properties", {}).values():
            pattern = prop.get("pattern", "")
            if r"\p{" in pattern:
                prop["pattern"] = re.sub(
                    r"\\p\{(\w)\}", lambda m: _category_ranges(m.group(1)), pattern
                )


@cache
def _category_ranges(major: str) -> str:
    """The code points of a Unicode major category (``L``, ``N``, ``P``, ``Z``) as ranges."""
    out, start, prev = [], None, None
    for cp in range(sys.maxunicode + 1):
        if unicodedata.category(chr(cp)).startswith(major):
            if start is None:
                start = cp
            prev = cp
        elif start is not None:
            out.append(_range(start, prev))
            start = None
    if start is not None:
        out.append(_range(start, prev))
    return "".join(out)


def _range(lo: int, hi: int | None) -> str:
    a = re.escape(chr(lo))
    return a if hi == lo else f"{a}-{re.escape(chr(hi or lo))}"


def _one_of_as_any_of(node: Any) -> Any:
    """The document's ``oneOf`` alternatives are open objects, so a valid body matches several
    of them and strict ``oneOf`` fails on every body; read them as ``anyOf``."""
    if isinstance(node, dict):
        return {("anyOf" if k == "oneOf" else k): _one_of_as_any_of(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_one_of_as_any_of(v) for v in node]
    return node


def operation(method: str, path: str) -> tuple[str, dict[str, Any]]:
    """The document's (template, operation) for a concrete request path."""
    paths = load()["paths"]
    if path in paths and method.lower() in paths[path]:
        return path, paths[path][method.lower()]  # a literal wins (/lineItems/reasonCodes)
    for template, ops in paths.items():
        regex = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(regex, path) and method.lower() in ops:
            return template, ops[method.lower()]
    raise AssertionError(f"{method} {path} is not in Tango's document")


def validate_answer(method: str, path: str, status: int, body: Any) -> str:
    """Check an answer against the document; returns the operation's template."""
    template, op = operation(method, path)
    responses = op["responses"]
    assert str(status) in responses, (
        f"{method} {template} answered {status}, not in {list(responses)}"
    )
    content = responses[str(status)].get("content")
    if content and body is not None:
        _check(content["application/json"]["schema"], body, f"{method} {template} {status}")
    return template


def validate_request(method: str, path: str, body: Any) -> None:
    """Check a request body against the operation's ``requestBody`` schema."""
    template, op = operation(method, path)
    content = op.get("requestBody", {}).get("content")
    if content and body is not None:
        _check(content["application/json"]["schema"], body, f"{method} {template} request")


def _check(schema: dict[str, Any], body: Any, where: str) -> None:
    from jsonschema import Draft202012Validator

    whole = {**copy.deepcopy(schema), "components": load()["components"]}
    errors = sorted(Draft202012Validator(whole).iter_errors(body), key=str)
    assert not errors, f"{where}: {errors[0].message} at {list(errors[0].path)}"


def schema(name: str) -> dict[str, Any]:
    return load()["components"]["schemas"][name]
