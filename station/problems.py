"""Turning a pydantic ValidationError into the one-line `SOURCE:KEY: problem` messages that
every input file of the station reports (config.yaml, scenarios, the bundle)."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import ValidationError


def dotted_key(location: tuple[int | str, ...]) -> str:
    """`("policy", "returning", "window")` → `policy.returning.window` (validator ids dropped)."""
    parts = [str(p) for p in location if not str(p).startswith("function-")]
    return ".".join(parts) or "(top level)"


def problems(error: ValidationError, source: str, *, separator: str = ":",
             key: Callable[[tuple[int | str, ...]], str] = dotted_key) -> list[str]:
    """Every problem of `error` as `source{separator}KEY: what is wrong`, in pydantic's order."""
    lines = []
    for item in error.errors(include_url=False):
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"{source}{separator}{key(tuple(item['loc']))}: {message}")
    return lines
