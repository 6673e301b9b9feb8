"""Reading YAML that people write, keeping line numbers for every message.

PyYAML's node tree (``yaml.compose``) keeps where each value starts; this reader walks it with small
typed accessors that record a :class:`~newsletter.errors.Problem` per mistake and carry on, so one
run reports every problem in a file.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import Problem, display_path

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: same marks, faster
_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
#: Digits a whole number may have (a 64-bit integer has 19).
MAX_DIGITS = 18


class YamlReader:
    """Typed access to one YAML document; problems collect in :attr:`problems`."""

    def __init__(self, path: str | Path, text: str, first_line: int = 1):
        self.path = display_path(path)
        self.text = text
        self.first_line = first_line
        self.problems: list[Problem] = []

    def root(self) -> Node | None:
        """The document's top node; None (and a problem) on a syntax error or an empty file."""
        try:
            node = yaml.compose(self.text, Loader=_LOADER)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = self.first_line + mark.line if mark else None
            what = exc.problem or exc.context or "invalid YAML"
            if exc.context and exc.context_mark and exc.problem_mark and exc.context_mark.line != exc.problem_mark.line:
                what += f" ({exc.context} that starts at line {self.first_line + exc.context_mark.line})"
            self.problems.append(Problem(self.path, line, f"YAML syntax error: {what}"))
            return None
        except yaml.YAMLError as exc:
            self.problems.append(Problem(self.path, None, f"YAML syntax error: {exc}"))
            return None
        if node is None:
            self.problems.append(Problem(self.path, self.first_line, "the document is empty"))
        return node

    def line(self, node: Node) -> int:
        return self.first_line + node.start_mark.line

    def error(self, node: Node | None, where: str, message: str) -> None:
        line = self.line(node) if node is not None else None
        self.problems.append(Problem(self.path, line, f"{where}: {message}" if where else message))

    # --- shapes ---------------------------------------------------------------------------

    def mapping(
        self,
        node: Node,
        where: str,
        allowed: Iterable[str] | None,
        required: Iterable[str] = (),
    ) -> dict[str, Node] | None:
        """Keys → value nodes; unknown (when ``allowed`` is given), duplicate and missing keys are problems."""
        if not isinstance(node, MappingNode):
            self.error(node, where, f"expected a mapping, got {_describe(node)}")
            return None
        allowed = None if allowed is None else list(allowed)
        result: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else None
            inner = f"{where}.{key}" if where else str(key)
            if key is None:
                self.error(key_node, where, "keys must be plain names")
            elif allowed is not None and key not in allowed:
                self.error(key_node, inner, f"unknown key (expected one of: {', '.join(allowed)})")
            elif key in result:
                self.error(key_node, inner, "given twice")
            else:
                result[key] = value_node
        for key in required:
            if key not in result:
                self.error(node, where, f"missing required key '{key}'")
        return result

    def sequence(self, node: Node, where: str) -> list[Node] | None:
        if not isinstance(node, SequenceNode):
            self.error(node, where, f"expected a list, got {_describe(node)}")
            return None
        return list(node.value)

    def string(self, node: Node, where: str, *, empty_ok: bool = False) -> str | None:
        """A text value; numbers and dates are taken as written (a film may be called ``1917``)."""
        if not isinstance(node, ScalarNode) or node.tag in (_NULL, _BOOL):
            self.error(node, where, f"expected text, got {_describe(node)}")
            return None
        if not empty_ok and not str(node.value).strip():
            self.error(node, where, "must not be empty")
            return None
        return str(node.value)

    def integer(self, node: Node, where: str, *, minimum: int | None = None) -> int | None:
        if not isinstance(node, ScalarNode) or node.tag != _INT:
            self.error(node, where, f"expected a whole number, got {_describe(node)}")
            return None
        digits = node.value.lstrip("+-").replace("_", "")
        if len(digits) > MAX_DIGITS:  # int() refuses 4,300 digits and more; nothing here needs 19
            self.error(node, where, f"{node.value[:20]}… is too large")
            return None
        value = int(yaml.safe_load(node.value))
        if minimum is not None and value < minimum:
            self.error(node, where, f"must be at least {minimum}")
            return None
        return value

    def strings(self, node: Node, where: str) -> list[str] | None:
        """A list of text values (a single value is taken as a list of one)."""
        if isinstance(node, ScalarNode):
            one = self.string(node, where)
            return None if one is None else [one]
        items = self.sequence(node, where)
        if items is None:
            return None
        values = [self.string(item, f"{where}[{i}]") for i, item in enumerate(items)]
        return None if any(v is None for v in values) else [v for v in values if v is not None]

    def scalar(self, node: Node, where: str) -> str | int | float | bool | None:
        """Any single value (for attribute conditions)."""
        if not isinstance(node, ScalarNode) or node.tag == _NULL:
            self.error(node, where, f"expected a single value, got {_describe(node)}")
            return None
        if node.tag == _INT and len(node.value) > MAX_DIGITS:
            return node.value  # compared as text anyway; int() would refuse 4,300 digits and more
        return yaml.safe_load(yaml.serialize(node)) if node.tag != _STR else node.value


def _describe(node: Node | None) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node is None or node.tag == _NULL:
        return "nothing"
    if node.tag == _BOOL:
        return f"true/false ({node.value})"
    return f"'{node.value}'"
