"""Generate the copy of ``terraform/`` that the offline checks run on (provider 5.100).

Real deploys need hashicorp/aws >= 6.28 (``aws_lambda_function.durable_config`` came in
6.25, ``aws_lambda_permission.invoked_via_function_url`` in 6.28); the provider mirror of
this machine has 5.100.0 only. This script copies ``terraform/`` and ``state_machine/`` to
``build/tf-offline/`` and changes exactly two things in its ``.tf`` files:

- every region between ``# offline-check:NAME:begin`` and ``# offline-check:NAME:end`` is
  removed, where NAME is one of :data:`MARKERS`, each of which may hold exactly one thing
  5.100 lacks: ``durable_config`` one ``durable_config { ... }`` block, ``provider-6.28``
  one ``invoked_via_function_url = ...`` argument on a line of its own;
- every ``version = ">= 6.28..."`` constraint becomes ``>= 5.100`` (keeping an upper bound).

It fails loudly (exit 1) when a marker is unknown, unbalanced, nested or closed by the
other marker's end, when a marked region holds anything but what its marker allows, when
what a marker allows is left outside a region, when a marker is never used in the whole
tree, or when a ``>= 6.x`` constraint or a marker is left in the copy. A ``*_override.tf``
cannot do this: Terraform drops unknown blocks in override files without a word, so the
check would prove nothing.

``.terraform`` directories of an earlier run are kept so ``terraform init`` stays quick.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "build" / "tf-offline"
COPIED_DIRS = ("terraform", "state_machine")
#: Files outside those the configuration reads with file(): the workflow contract, whose
#: retry policies the state machine module renders into the definition.
COPIED_FILES = ("shared_layer/albums/data/workflow_contract.json",)


@dataclass(frozen=True, slots=True)
class Marker:
    """What one ``offline-check:NAME`` region may hold: one block or one argument line."""

    kind: Literal["block", "argument"]
    #: The block type or argument name the region holds.
    holds: str
    #: Why provider 5.100 cannot have it (for the error messages and the docs).
    reason: str

    @property
    def leftover(self) -> re.Pattern[str]:
        """What must never be found outside a region of this marker."""
        name = re.escape(self.holds)
        if self.kind == "block":
            return re.compile(rf'(?m)^\s*(?:{name}\s*\{{|dynamic\s+"{name}")')
        return re.compile(rf"(?m)^\s*{name}\s*=")


#: Every marker there is, by NAME: anything else named ``offline-check:`` fails.
MARKERS: Final[Mapping[str, Marker]] = {
    "durable_config": Marker(
        "block", "durable_config", "aws_lambda_function.durable_config exists from 6.25"
    ),
    "provider-6.28": Marker(
        "argument",
        "invoked_via_function_url",
        "aws_lambda_permission.invoked_via_function_url exists from 6.28",
    ),
}

_MARKER_LINE = re.compile(
    r"^\s*#\s*offline-check:(?P<name>[A-Za-z0-9_.-]+):(?P<edge>begin|end)\s*$"
)
ANY_MARKER = re.compile(r"offline-check:")
_ARGUMENT_LINE = re.compile(r"^\s*(?P<name>[A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?P<value>\S.*?)\s*$")
#: The real tree's constraint, the only one rewritten.
VERSION_REQUIRED = re.compile(r'(version\s*=\s*")>=\s*6\.28(\.\d+)?([^"]*")')
#: Any ``>= 6.x`` constraint left after the rewrite (a different floor) is an error.
VERSION_LEFT = re.compile(r'version\s*=\s*"[^"]*>=\s*6\.\d+')
OFFLINE_VERSION = ">= 5.100"
SKIPPED_NAMES = frozenset({".terraform", ".terraform.lock.hcl", "terraform.tfstate"})


class OfflineCopyError(Exception):
    """The real tree cannot be turned into a valid offline copy."""


@dataclass(frozen=True, slots=True)
class Rewrite:
    """What was changed in one file."""

    path: str
    #: Regions removed, by marker NAME.
    regions_removed: Mapping[str, int] = field(default_factory=dict)
    constraints_rewritten: int = 0


def strip_marked_regions(text: str, name: str) -> tuple[str, Counter[str]]:
    """Remove every marked region from ``text``.

    Parameters
    ----------
    text
        Content of one ``.tf`` file.
    name
        Its path, for error messages.

    Returns
    -------
    tuple[str, Counter[str]]
        The text without the marked regions and how many were removed, by marker NAME.

    Raises
    ------
    OfflineCopyError
        On an unknown, unbalanced or nested marker, an end of another marker, or a region
        that does not hold exactly what its marker allows.
    """
    out: list[str] = []
    region: list[str] | None = None
    open_name, begin_line = "", 0
    removed: Counter[str] = Counter()
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        marker = _MARKER_LINE.match(line)
        if marker is None:
            if ANY_MARKER.search(line):
                raise OfflineCopyError(f"{name}:{number}: unknown marker: {line.strip()}")
            (out if region is None else region).append(line)
            continue
        marker_name, edge = marker.group("name"), marker.group("edge")
        if marker_name not in MARKERS:
            raise OfflineCopyError(
                f"{name}:{number}: unknown marker offline-check:{marker_name} "
                f"(known: {', '.join(sorted(MARKERS))})"
            )
        if edge == "begin":
            if region is not None:
                raise OfflineCopyError(
                    f"{name}:{number}: nested offline-check:{marker_name}:begin inside "
                    f"offline-check:{open_name} (opened at line {begin_line})"
                )
            region, open_name, begin_line = [], marker_name, number
            continue
        if region is None:
            raise OfflineCopyError(
                f"{name}:{number}: offline-check:{marker_name}:end without a begin"
            )
        if marker_name != open_name:
            raise OfflineCopyError(
                f"{name}:{number}: offline-check:{marker_name}:end closes "
                f"offline-check:{open_name} (opened at line {begin_line})"
            )
        _check_region(MARKERS[marker_name], marker_name, region, f"{name}:{begin_line}")
        region = None
        removed[marker_name] += 1
    if region is not None:
        raise OfflineCopyError(
            f"{name}:{begin_line}: offline-check:{open_name}:begin without an end"
        )
    return "".join(out), removed


def _check_region(marker: Marker, marker_name: str, region: list[str], where: str) -> None:
    body = [line for line in region if line.strip()]
    if marker.kind == "argument":
        argument = _ARGUMENT_LINE.match(body[0]) if len(body) == 1 else None
        value = argument.group("value") if argument else ""
        if (
            argument is None
            or argument.group("name") != marker.holds
            or value.startswith("<<")
            or any(c in value for c in "{[(")
        ):
            raise OfflineCopyError(
                f"{where}: a offline-check:{marker_name} region must hold exactly one "
                f"single-line {marker.holds} = ... argument"
            )
        return
    opening = re.compile(rf"^\s*{re.escape(marker.holds)}\s*\{{\s*$")
    if not body or not opening.match(body[0]) or body[-1].strip() != "}":
        raise OfflineCopyError(
            f"{where}: a offline-check:{marker_name} region must hold exactly one "
            f"{marker.holds} block"
        )
    depth = 0
    for line in body:
        depth += line.count("{") - line.count("}")
        if depth == 0 and line is not body[-1]:
            raise OfflineCopyError(
                f"{where}: a offline-check:{marker_name} region holds more than the "
                f"{marker.holds} block"
            )
    if depth != 0:
        raise OfflineCopyError(f"{where}: unbalanced braces in the marked region")


def rewrite_versions(text: str) -> tuple[str, int]:
    """Rewrite ``>= 6.28`` provider constraints to ``>= 5.100``; return text and count."""
    return VERSION_REQUIRED.subn(lambda m: f"{m.group(1)}{OFFLINE_VERSION}{m.group(3)}", text)


def rewrite_file(text: str, name: str) -> tuple[str, Rewrite]:
    """Apply both rewrites to one ``.tf`` file and check nothing is left behind."""
    stripped, regions = strip_marked_regions(text, name)
    result, constraints = rewrite_versions(stripped)
    for marker_name, marker in MARKERS.items():
        if marker.leftover.search(result):
            raise OfflineCopyError(
                f"{name}: {marker.holds} is not inside the offline-check:{marker_name} "
                f"markers ({marker.reason})"
            )
    if VERSION_LEFT.search(result):
        raise OfflineCopyError(
            f"{name}: a >= 6.x version constraint was not rewritten (the tree requires >= 6.28)"
        )
    return result, Rewrite(name, dict(regions), constraints)


def _clear(out: Path) -> None:
    """Delete everything in ``out`` except .terraform caches (and their lock files)."""
    if not out.exists():
        return
    for path in sorted(out.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if any(part in SKIPPED_NAMES for part in path.relative_to(out).parts):
            continue
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def generate(repo: Path, out: Path) -> list[Rewrite]:
    """Write the offline copy of ``repo``'s terraform/ and state_machine/ to ``out``.

    The files of :data:`COPIED_FILES` are copied too, to the same relative paths.

    Raises
    ------
    OfflineCopyError
        When the real tree breaks a marker rule, or a marker of :data:`MARKERS` was never
        used (its whitelist entry would then prove nothing).
    """
    _clear(out)
    rewrites: list[Rewrite] = []
    for top in COPIED_DIRS:
        source_root = repo / top
        if not source_root.is_dir():
            raise OfflineCopyError(f"{source_root} does not exist")
        (out / top).mkdir(parents=True, exist_ok=True)
        for source in sorted(source_root.rglob("*")):
            rel = source.relative_to(repo)
            if any(part in SKIPPED_NAMES for part in rel.parts) or not source.is_file():
                continue
            target = out / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.suffix == ".tf":
                text, rewrite = rewrite_file(source.read_text(encoding="utf-8"), str(rel))
                target.write_text(text, encoding="utf-8")
                rewrites.append(rewrite)
            else:
                shutil.copyfile(source, target)
    used = Counter[str]()
    for rewrite in rewrites:
        used.update(rewrite.regions_removed)
    unused = sorted(set(MARKERS) - set(used))
    if unused:
        raise OfflineCopyError(
            f"no region of marker {', '.join(unused)} was found: the tree no longer needs it, "
            "so remove it from MARKERS"
        )
    for name in COPIED_FILES:
        if not (repo / name).is_file():
            raise OfflineCopyError(f"{repo / name} does not exist (the configuration reads it)")
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(repo / name, target)
    return rewrites


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=REPO_ROOT)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    try:
        rewrites = generate(args.repo, args.out)
    except OfflineCopyError as error:
        print(f"tf-offline: FAILED: {error}", file=sys.stderr)
        return 1
    for r in rewrites:
        if r.regions_removed or r.constraints_rewritten:
            regions = ", ".join(f"{n} x{c}" for n, c in sorted(r.regions_removed.items()))
            print(
                f"tf-offline: {r.path}: removed regions [{regions}], "
                f"rewrote {r.constraints_rewritten} version constraint(s)"
            )
    print(f"tf-offline: copy for provider 5.100 written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
