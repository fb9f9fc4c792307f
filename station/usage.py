"""click's usage errors (a missing argument, an unknown option, a bad value) as one line in
the catalogue's words and the person's locale (issue 15, Language).

click words these errors itself, in English and on three lines (a usage line, a hint, then
`Error: No such option '--x'.`). Here each kind is worded again from the exception's own
fields (the parameter, the option's name, the type's choices and range, the value click
quotes): `gate-station log：没有选项 '--bogus'（用法见 gate-station log --help）`. A
BadParameter whose message is a catalogue sentence (`Localized`: our own checks, the time
parsers) is rendered in the locale. A message of a kind not recognised here (a future click
wording) is never dropped: it is quoted in [brackets] as click gave it.

`OneLineUsageError` carries the finished line; click prints it (exit status 2) where it
would have printed its own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import click

from station.errors import Localized
from station.messages import Locale, text

__all__ = ["OneLineUsageError", "is_help_request", "one_line", "usage_problem"]

_EXTRA = re.compile(r"^Got unexpected extra arguments? \((?P<args>.*)\)\.?$")
_NO_COMMAND = re.compile(r"^No such command (?P<name>.+?)\.?$")
_MISSING_COMMAND = re.compile(r"^Missing command\.?$")
_NEEDS_VALUE = re.compile(r"^Option (?P<name>.+?) requires an argument\.?$")
_NEEDS_VALUES = re.compile(r"^Option (?P<name>.+?) requires (?P<count>\d+) arguments\.?$")
_NO_VALUE = re.compile(r"^Option (?P<name>.+?) does not take a value\.?$")
_RANGE = re.compile(r"^(?P<value>.+?) is not in the range (?P<range>.+?)\.?$")
_NOT_NUMBER = re.compile(r"^(?P<value>.+?) is not a valid (?P<kind>integer|float)\b.*$")
_CHOICE = re.compile(r"^(?P<value>.+?) is not (?:one of )?.+$")
_PATH_MISSING = re.compile(r"^(?:File|Directory|Path) (?P<path>.+?) does not exist\.?$")
_PATH_IS_FOLDER = re.compile(r"^(?:File|Path) (?P<path>.+?) is a directory\.?$")
_PATH_IS_FILE = re.compile(r"^(?:Directory|Path) (?P<path>.+?) is a file\.?$")


class OneLineUsageError(click.UsageError):
    """A usage error already worded for the person: click prints just this line."""

    def show(self, file: object = None) -> None:
        click.echo(self.message, err=True)


def is_help_request(error: click.UsageError) -> bool:
    """click's "no arguments: show the help" (a group run bare) is help, not an error."""
    help_error = getattr(click.exceptions, "NoArgsIsHelpError", None)
    return help_error is not None and isinstance(error, help_error)


def one_line(error: click.UsageError, locale: Locale, program: str) -> OneLineUsageError:
    """`error` as one line naming the command, the problem, and where to read the usage."""
    command = error.ctx.command_path if error.ctx is not None else program
    line = text("usage.line", locale, command=command, problem=usage_problem(error, locale))
    return OneLineUsageError(line, error.ctx)  # exit status 2, as click's own


def _hint(error: click.BadParameter) -> str | None:
    hint = error.param_hint
    if hint is None and error.param is not None:
        hint = error.param.get_error_hint(error.ctx)
    if hint is None:
        return None
    if isinstance(hint, str):
        return hint
    return " / ".join(repr(part) for part in hint)


def usage_problem(error: click.UsageError, locale: Locale) -> str:
    """What is wrong, in `locale` (without the command's name)."""
    message = error.message
    if isinstance(error, click.MissingParameter) and not message:
        kind = error.param_type or (error.param.param_type_name if error.param else "")
        key = "usage.missing_option" if kind == "option" else "usage.missing_argument"
        return text(key, locale, name=_hint(error) or "")
    if isinstance(error, click.BadParameter):
        problem = _value_problem(error, locale)
        name = _hint(error)
        if name is None:
            return text("usage.bad_value_plain", locale, problem=problem)
        return text("usage.bad_value", locale, name=name, problem=problem)
    if isinstance(message, Localized):
        return message.in_locale(locale)
    if isinstance(error, click.NoSuchOption):
        return _did_you_mean(text("usage.no_such_option", locale,
                                  name=repr(error.option_name)), error.possibilities, locale)
    no_command = getattr(click.exceptions, "NoSuchCommand", None)
    if no_command is not None and isinstance(error, no_command):
        return _did_you_mean(text("usage.no_such_command", locale,
                                  name=repr(error.command_name)), error.possibilities, locale)
    return _worded(message, locale)


def _did_you_mean(problem: str, possibilities: Sequence[str] | None, locale: Locale) -> str:
    if not possibilities:
        return problem
    return text("usage.did_you_mean", locale, problem=problem,
                names=", ".join(repr(name) for name in possibilities))


def _worded(message: str, locale: Locale) -> str:
    """A plain usage error: click's own English wordings this module knows, else quoted."""
    for pattern, key in ((_EXTRA, "usage.extra_arguments"), (_NO_COMMAND,
                         "usage.no_such_command"), (_MISSING_COMMAND, "usage.missing_command"),
                         (_NEEDS_VALUE, "usage.needs_value"),
                         (_NEEDS_VALUES, "usage.needs_values"),
                         (_NO_VALUE, "usage.takes_no_value")):
        found = pattern.match(message)
        if found:
            fields = found.groupdict()
            if "args" in fields:  # what the person typed, quoted as typed
                fields["args"] = " ".join(repr(arg) for arg in fields["args"].split())
            return text(key, locale, **fields)
    return text("usage.other", locale, message=message)


def _value_problem(error: click.BadParameter, locale: Locale) -> str:
    """Why a value was refused: our own sentence, or click's type message worded again."""
    message = error.message
    if isinstance(message, Localized):
        return message.in_locale(locale)
    kind = error.param.type if error.param is not None else None
    if isinstance(kind, click.Choice):
        found = _CHOICE.match(message)
        if found:
            choices = ", ".join(repr(str(choice)) for choice in kind.choices)
            return text("usage.choice", locale, value=found["value"], choices=choices)
    for pattern, key in ((_RANGE, "usage.range"), (_PATH_MISSING, "usage.path_missing"),
                         (_PATH_IS_FOLDER, "usage.path_is_folder"),
                         (_PATH_IS_FILE, "usage.path_is_file")):
        found = pattern.match(message)
        if found:
            return text(key, locale, **found.groupdict())
    found = _NOT_NUMBER.match(message)
    if found:
        key = "usage.not_integer" if found["kind"] == "integer" else "usage.not_number"
        return text(key, locale, value=found["value"])
    return text("usage.other", locale, message=message)
