"""Turning a pydantic ValidationError into the one-line `SOURCE:KEY: problem` messages that
every input file of the station reports (config.yaml, scenarios, the bundle).

Each line is a `Localized` (station.errors): English as pydantic words it (what logs and
tests see), Chinese from the catalogue by the error's `type` and its context values
(`PYDANTIC_TYPES`). The file, the key and the numbers stay as they are in both. A type not
mapped here keeps pydantic's English; tests/test_language.py fails if a type the config
models can raise is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from station.errors import Localized

# pydantic error type → catalogue key (`pydantic.<type>`); each template may use the
# error's `ctx` fields and `msg` (pydantic's English sentence, which the `en` side shows)
PYDANTIC_TYPES = frozenset({
    "missing", "extra_forbidden", "greater_than_equal", "greater_than", "less_than_equal",
    "less_than", "literal_error", "int_type", "int_parsing", "int_from_float", "float_type",
    "float_parsing", "finite_number", "bool_type", "bool_parsing", "string_type",
    "string_too_short", "string_too_long", "string_pattern_mismatch", "too_short",
    "too_long", "list_type", "tuple_type", "dict_type", "model_type",
    "model_attributes_type", "date_type",
    "date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact",
    "datetime_type", "datetime_parsing", "time_type", "time_parsing", "enum",
    "value_error", "assertion_error", "none_required",
})


def dotted_key(location: tuple[int | str, ...]) -> str:
    """`("policy", "returning", "window")` → `policy.returning.window` (validator ids dropped)."""
    parts = [str(p) for p in location if not str(p).startswith("function-")]
    return ".".join(parts) or "(top level)"


def problems(error: ValidationError, source: str, *, separator: str = ":",
             key: Callable[[tuple[int | str, ...]], str] = dotted_key) -> list[str]:
    """Every problem of `error` as `source{separator}KEY: what is wrong`, in pydantic's order,
    each a Localized (a type not mapped keeps pydantic's English problem; `key` may return
    a Localized location, e.g. a scenario's `event N`)."""
    lines: list[str] = []
    for item in error.errors(include_url=False):
        located = key(tuple(item["loc"]))
        where: str = (Localized("problem.where", source=source, separator=separator,
                                place=located) if isinstance(located, Localized)
                      else f"{source}{separator}{located}")
        message = item["msg"].removeprefix("Value error, ")
        problem = problem_text(item["type"], message, item.get("ctx") or {})
        lines.append(Localized("problem.line", where=where,
                               problem=message if problem is None else problem))
    return lines


def _number(value: object) -> object:
    """A bound as pydantic's own message shows it (40.0 → 40)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def problem_text(kind: str, message: str, ctx: dict[str, Any]) -> Localized | None:
    """The problem of one pydantic error as a catalogue sentence; None if `kind` is unmapped
    (or a validator's ValueError without a catalogue sentence: its English is shown)."""
    if kind == "value_error":
        cause = ctx.get("error")
        reason = cause.args[0] if isinstance(cause, ValueError) and cause.args else None
        return reason if isinstance(reason, Localized) else None
    if kind not in PYDANTIC_TYPES:
        return None
    fields = {name: _number(value) for name, value in ctx.items() if name != "error"}
    if kind == "literal_error":  # `'fake' or 'real'`: the values stay, the `or` is language
        fields["expected_zh"] = str(ctx.get("expected", "")).replace(" or ", " 或 ")
    if kind == "enum":
        fields["expected_zh"] = str(ctx.get("expected", "")).replace(" or ", " 或 ")
    if "error" in ctx:
        fields["detail"] = str(ctx["error"])
    return Localized(f"pydantic.{kind}", msg=message, **fields)
