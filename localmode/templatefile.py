"""Terraform's ``templatefile()`` for the subset of its template language our ASL uses.

The state machine definition is one template, ``state_machine/*.asl.json.tftpl``, that
Terraform renders on deploy and local mode renders here. To keep the two renderers in
agreement this one accepts only what both do the same way and refuses everything else:

- ``${name}``: a variable, replaced by its value (strings as they are, numbers in their
  shortest decimal form, booleans as ``true``/``false``); an undeclared variable is an
  error, as in Terraform;
- ``$${`` and ``%%{``: a literal ``${`` and ``%{``;
- one directive form, an optional section: a line ``%{ if name != null ~}`` and, after
  it, a line ``%{ endif ~}``. Each directive must start its line and end it (``~}`` right
  before the newline), so the directive lines vanish and the lines between are kept, or
  dropped when ``name`` is null: what Terraform renders too (its ``~`` removes the rest of
  the directive's line, newline included). Sections do not nest;
- every other ``%{ ... }`` directive (``else``, ``for``, another condition, an indented or
  inline ``if``, a strip marker on the left) and ``${ expression }`` with anything other
  than a plain name are refused (Terraform would evaluate them; we do not pretend to).

As in Terraform, every variable the template names must be in the map, inside a dropped
section too; a null value is only allowed where the template tests it (``${name}`` of a
null is an error, as Terraform's "The expression result is null").

``tests/unit/test_state_machine_template.py`` renders the real template with both
renderers and compares the bytes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path

#: Where the state machine template lives (what Terraform's module reads too).
STATE_MACHINE_TEMPLATE = (
    Path(__file__).resolve().parent.parent / "state_machine" / "album_registration.asl.json.tftpl"
)

TemplateValue = str | int | float | Decimal | bool | None

_NAME_PATTERN = r"[A-Za-z_][A-Za-z0-9_-]*"
# One alternation, scanned left to right, so ``$${x}`` is an escape and never ``$`` + ``${x}``.
# The two supported directives each fill a line of their own (``^`` ... newline or end).
_TOKEN = re.compile(
    r"(?P<escape>\$\$\{|%%\{)"
    r"|\$\{(?P<strip_left>~?)\s*(?P<body>[^}]*?)\s*(?P<strip_right>~?)\}"
    rf"|^%\{{[ \t]*if[ \t]+(?P<if_name>{_NAME_PATTERN})[ \t]*!=[ \t]*null[ \t]*~\}}(?:\n|\Z)"
    r"|(?P<endif>^%\{[ \t]*endif[ \t]*~\}(?:\n|\Z))"
    r"|(?P<directive>%\{)",
    re.MULTILINE,
)
_NAME = re.compile(rf"^{_NAME_PATTERN}$")
_SUPPORTED_DIRECTIVES = (
    "only '%{ if NAME != null ~}' ... '%{ endif ~}', each on a line of its own, is supported"
)


class TemplateError(ValueError):
    """The template uses something this renderer does not support, or a variable is missing."""


def render(template: str, variables: Mapping[str, TemplateValue]) -> str:
    """Render ``template`` as Terraform's ``templatefile()`` would.

    Parameters
    ----------
    template
        The template text.
    variables
        Values of the template's variables (extra ones are ignored, as in Terraform);
        ``None`` is Terraform's ``null``.

    Returns
    -------
    str
        The rendered text.

    Raises
    ------
    TemplateError
        For an undeclared variable, a null value rendered with ``${...}``, a directive
        other than the optional section (or a section left open, nested or closed twice),
        an expression that is not a plain variable name, a strip marker (``~``) on an
        interpolation, or a value of an unsupported type.
    """
    out: list[str] = []
    position = 0
    section = _Section()
    for match in _TOKEN.finditer(template):
        if not section.dropped:
            out.append(template[position : match.start()])
        position = match.end()
        if match.group("escape") is not None:
            if not section.dropped:
                out.append(match.group("escape")[1:])
        elif match.group("if_name") is not None:
            section.open(match.start(), _value(variables, match.group("if_name")) is None)
        elif match.group("endif") is not None:
            section.close(match.start())
        else:
            out.append(_interpolation(match, variables, rendered=not section.dropped))
    section.finish()
    if not section.dropped:
        out.append(template[position:])
    return "".join(out)


class _Section:
    """The optional section being rendered: where it opened and whether it is dropped."""

    def __init__(self) -> None:
        self.start: int | None = None
        self.dropped = False

    def open(self, offset: int, dropped: bool) -> None:
        if self.start is not None:
            raise TemplateError(
                f"nested directives are not supported (at offset {offset}, "
                f"inside the section opened at offset {self.start})"
            )
        self.start, self.dropped = offset, dropped

    def close(self, offset: int) -> None:
        if self.start is None:
            raise TemplateError(f"endif without an if (at offset {offset})")
        self.start, self.dropped = None, False

    def finish(self) -> None:
        if self.start is not None:
            raise TemplateError(f"the section opened at offset {self.start} has no endif")


def _interpolation(
    match: re.Match[str], variables: Mapping[str, TemplateValue], *, rendered: bool
) -> str:
    """Return the text of a ``${name}`` token ("" in a dropped section); refuse the rest."""
    if match.group("directive") is not None:
        raise TemplateError(
            f"template directives are not supported (at offset {match.start()}): "
            f"{_SUPPORTED_DIRECTIVES}"
        )
    if match.group("strip_left") or match.group("strip_right"):
        raise TemplateError(f"strip markers are not supported (at offset {match.start()})")
    name = match.group("body")
    if not _NAME.fullmatch(name):
        raise TemplateError(f"only plain variables are supported, got ${{{name}}}")
    # In a dropped section too the key must exist (Terraform checks every reference), but
    # its value is not evaluated: a null there is fine.
    value = _value(variables, name)
    return _format(name, value) if rendered else ""


def _value(variables: Mapping[str, TemplateValue], name: str) -> TemplateValue:
    if name not in variables:
        raise TemplateError(f"vars map does not contain key {name!r}")
    return variables[name]


def render_file(path: str | Path, variables: Mapping[str, TemplateValue]) -> str:
    """Read and render a template file (see :func:`render`)."""
    return render(Path(path).read_text(encoding="utf-8"), variables)


def placeholders(template: str) -> frozenset[str]:
    """Return the variable names a template refers to (escapes excluded)."""
    names = set()
    for match in _TOKEN.finditer(template):
        if match.group("if_name") is not None:
            names.add(match.group("if_name"))
        elif match.group("body") is not None and _NAME.fullmatch(match.group("body")):
            names.add(match.group("body"))
    return frozenset(names)


def _format(name: str, value: TemplateValue) -> str:
    if value is None:
        raise TemplateError(
            f"variable {name!r} is null: only '%{{ if {name} != null ~}}' may use it"
        )
    # bool before int: True is an int in Python, but Terraform prints it as "true".
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        number = Decimal(str(value))
        if not number.is_finite():
            raise TemplateError(f"variable {name!r} is not a finite number")
        return format(number.normalize(), "f")
    raise TemplateError(f"variable {name!r} has an unsupported type {type(value).__name__}")
