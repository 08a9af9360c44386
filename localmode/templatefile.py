"""Terraform's ``templatefile()`` for the subset of its template language our ASL uses.

The state machine definition is one template, ``state_machine/*.asl.json.tftpl``, that
Terraform renders on deploy and local mode renders here. To keep the two renderers in
agreement this one accepts only what both do the same way and refuses everything else:

- ``${name}``: a variable, replaced by its value (strings as they are, numbers in their
  shortest decimal form, booleans as ``true``/``false``); an undeclared variable is an
  error, as in Terraform;
- ``$${`` and ``%%{``: a literal ``${`` and ``%{``;
- ``%{ ... }`` directives and ``${ expression }`` with anything other than a plain name
  are refused (Terraform would evaluate them; we do not pretend to).

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

TemplateValue = str | int | float | Decimal | bool

# One alternation, scanned left to right, so ``$${x}`` is an escape and never ``$`` + ``${x}``.
_TOKEN = re.compile(
    r"(?P<escape>\$\$\{|%%\{)"
    r"|\$\{(?P<strip_left>~?)\s*(?P<body>[^}]*?)\s*(?P<strip_right>~?)\}"
    r"|(?P<directive>%\{)"
)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


class TemplateError(ValueError):
    """The template uses something this renderer does not support, or a variable is missing."""


def render(template: str, variables: Mapping[str, TemplateValue]) -> str:
    """Render ``template`` as Terraform's ``templatefile()`` would.

    Parameters
    ----------
    template
        The template text.
    variables
        Values of the template's variables (extra ones are ignored, as in Terraform).

    Returns
    -------
    str
        The rendered text.

    Raises
    ------
    TemplateError
        For an undeclared variable, a directive, an expression that is not a plain
        variable name, a strip marker (``~``), or a value of an unsupported type.
    """
    out: list[str] = []
    position = 0
    for match in _TOKEN.finditer(template):
        out.append(template[position : match.start()])
        position = match.end()
        if match.group("escape") is not None:
            out.append(match.group("escape")[1:])
            continue
        if match.group("directive") is not None:
            raise TemplateError(
                f"template directives are not supported (at offset {match.start()})"
            )
        if match.group("strip_left") or match.group("strip_right"):
            raise TemplateError(f"strip markers are not supported (at offset {match.start()})")
        name = match.group("body")
        if not _NAME.fullmatch(name):
            raise TemplateError(f"only plain variables are supported, got ${{{name}}}")
        if name not in variables:
            raise TemplateError(f"vars map does not contain key {name!r}")
        out.append(_format(name, variables[name]))
    out.append(template[position:])
    return "".join(out)


def render_file(path: str | Path, variables: Mapping[str, TemplateValue]) -> str:
    """Read and render a template file (see :func:`render`)."""
    return render(Path(path).read_text(encoding="utf-8"), variables)


def placeholders(template: str) -> frozenset[str]:
    """Return the variable names a template refers to (escapes excluded)."""
    names = set()
    for match in _TOKEN.finditer(template):
        if match.group("body") is not None and _NAME.fullmatch(match.group("body")):
            names.add(match.group("body"))
    return frozenset(names)


def _format(name: str, value: TemplateValue) -> str:
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
