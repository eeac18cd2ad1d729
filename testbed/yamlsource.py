"""Load YAML keeping the line of every value, and validate it with pydantic.

Errors name the file, the line and the field path (e.g. `mss.mailroots.m7`), never a traceback.
Shared by topology files now and scenario files later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from testbed.errors import ConfigError

M = TypeVar("M", bound=BaseModel)
Lines = dict[tuple[Any, ...], int]


def load(path: Path) -> tuple[Any, Lines]:
    """Parse a YAML file; return its data and a map from field path to 1-based line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), None, "", f"cannot read: {exc.strerror}") from exc
    return parse(text, str(path))


def parse(text: str, name: str) -> tuple[Any, Lines]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(name, line, "", f"not valid YAML: {exc.problem or exc}") from exc
    lines: Lines = {}
    if node is not None:
        _walk(node, (), lines)
    return data, lines


def _walk(node: yaml.Node, path: tuple[Any, ...], lines: Lines) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            lines[(*path, key.value)] = key.start_mark.line + 1
            _walk(value, (*path, key.value), lines)
            lines[(*path, key.value)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), lines)


def line_of(lines: Lines, loc: tuple[Any, ...]) -> int | None:
    """The line of the deepest known prefix of `loc` (a missing field points at its parent)."""
    for n in range(len(loc), -1, -1):
        if (found := lines.get(tuple(loc[:n]))) is not None:
            return found
    return None


def validate(model: type[M], data: Any, lines: Lines, name: str) -> M:
    """Validate `data` as `model`; the first error becomes a ConfigError with file, line, field."""
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        raise config_errors(exc, lines, name)[0] from None


def config_errors(exc: ValidationError, lines: Lines, name: str) -> list[ConfigError]:
    out = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        field = ".".join(str(p) for p in loc)
        msg = err["msg"].removeprefix("Value error, ")
        out.append(ConfigError(name, line_of(lines, loc), field, msg))
    return out
