"""The one YAML loader: every YAML file the project reads (config.yaml, scenarios, the town's
rule values) goes through `load_yaml_file` or `load_yaml_text`.

PyYAML's `safe_load` silently keeps the last of two equal keys in a mapping (two `station:`
sections, two `id:`), which drops a setting without a word. This loader refuses duplicates
and names the file, the line and the key. Every failure is a YamlError with one line:

    config.yaml:14: duplicate key 'id' (first at line 3)
    config.yaml:7:3: not valid YAML: mapping values are not allowed here
    config.yaml: cannot read: Permission denied
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node

from station.errors import StationError


class YamlError(StationError, ValueError):
    """A YAML file cannot be read or parsed, or repeats a key; the message is one line."""


class _DuplicateKey(ConstructorError):
    def __init__(self, key: object, first_line: int, node: Node) -> None:
        super().__init__(problem=f"duplicate key {key!r} (first at line {first_line})",
                         problem_mark=node.start_mark)
        self.key = repr(key)
        self.first_line = first_line


class _RefuseDuplicates(yaml.constructor.SafeConstructor):
    """The safe constructor, refusing a key given twice in one mapping (merge keys aside)."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[object, int] = {}
        for key_node, _value in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: SafeLoader reports it itself below
                continue
            if first is not None:
                raise _DuplicateKey(key, first, key_node)
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)

    def construct_checked_timestamp(self, node: Node) -> Any:
        """A YAML date or time (`2021-02-20`), as the safe constructor makes it; one that
        matches YAML's pattern but is not on the calendar (`2021-13-45`) is a ConstructorError
        at its line, not the ValueError `datetime` raises."""
        try:
            return self.construct_yaml_timestamp(node)  # type: ignore[arg-type]
        except (ValueError, OverflowError) as error:
            raise ConstructorError(problem=f"{node.value!r} is not a date or time on the "
                                           f"calendar ({error})",
                                   problem_mark=node.start_mark) from None



class _StrictLoader(yaml.SafeLoader, _RefuseDuplicates):
    """The pure-Python safe loader, refusing duplicates; its error texts are the ones shown."""


# libyaml parses about 20× faster (config.yaml: 0.6 ms instead of 14 ms); the constructor,
# and so the duplicate check, is the same Python code on both.
_FastStrictLoader: type | None = None
if hasattr(yaml, "CSafeLoader"):
    class _FastStrictLoader(yaml.CSafeLoader, _RefuseDuplicates):  # type: ignore[no-redef]
        """libyaml's parser under the duplicate-refusing constructor."""


# PyYAML looks constructors up by tag, not by method name: both loaders get the checked one
_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp",  # type: ignore[type-var]
                              _RefuseDuplicates.construct_checked_timestamp)
if _FastStrictLoader is not None:
    _FastStrictLoader.add_constructor(  # type: ignore[attr-defined]
        "tag:yaml.org,2002:timestamp", _RefuseDuplicates.construct_checked_timestamp)


def load_yaml_text(text: str, source: str) -> Any:
    """Parse `text` (from `source`, used in messages); YamlError on any problem. libyaml
    parses when PyYAML has it; a text libyaml rejects is parsed again by the pure-Python
    loader, whose error is the one reported (libyaml words its errors differently)."""
    if _FastStrictLoader is not None:
        try:
            return yaml.load(text, Loader=_FastStrictLoader)
        except (yaml.YAMLError, RecursionError):
            pass  # the pure-Python loader below says what is wrong, as it always has
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except RecursionError:  # the composer recurses once per level of nesting
        raise YamlError(key="yaml.invalid", where=source,
                        problem="nested too deeply") from None
    except _DuplicateKey as error:
        mark = error.problem_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise YamlError(key="yaml.duplicate_key", where=f"{source}{line}", key_name=error.key,
                        first=error.first_line) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise YamlError(key="yaml.invalid", where=f"{source}{where}", problem=problem) from None


def load_yaml_file(path: str | Path) -> Any:
    """Read and parse a UTF-8 YAML file; YamlError (one line naming the file) on any problem.
    The file is named as given; callers pass absolute paths when the user needs them."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except IsADirectoryError:
        raise YamlError(key="file.is_folder", path=path) from None
    except OSError as error:
        raise YamlError(key="file.cannot_read", path=path, error=error) from None
    except UnicodeDecodeError:
        raise YamlError(key="file.not_utf8", path=path) from None
    return load_yaml_text(text, str(path))


def peek_yaml_file(path: str | Path) -> Any:
    """The file parsed leniently (a repeated key keeps its last value), or None on any
    problem: only for picking the language of an error about the file itself."""
    try:
        return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ValueError, OverflowError,
            RecursionError):  # a date off the calendar, nesting too deep
        return None
