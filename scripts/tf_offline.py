"""Generate the copy of ``terraform/`` that the offline checks run on (provider 5.100).

Real deploys need hashicorp/aws >= 6.25 for ``aws_lambda_function.durable_config``; the
provider mirror of this machine has 5.100.0 only. This script copies ``terraform/`` and
``state_machine/`` to ``build/tf-offline/`` and changes exactly two things there:

- every block between ``# offline-check:durable_config:begin`` and
  ``# offline-check:durable_config:end`` is removed (5.100 has no such block);
- every ``version = ">= 6.25..."`` constraint becomes ``>= 5.100`` (keeping an upper bound).

It fails loudly (exit 1) when a marker is unbalanced or nested, when a marked region holds
anything but the ``durable_config`` block, or when a ``6.25`` constraint or a marker is left
in the copy. A ``*_override.tf`` cannot do this: Terraform drops unknown blocks in override
files without a word, so the check would prove nothing.

``.terraform`` directories of an earlier run are kept so ``terraform init`` stays quick.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "build" / "tf-offline"
COPIED_DIRS = ("terraform", "state_machine")

MARKER = "offline-check:durable_config"
BEGIN = re.compile(r"^\s*#\s*offline-check:durable_config:begin\s*$")
END = re.compile(r"^\s*#\s*offline-check:durable_config:end\s*$")
ANY_MARKER = re.compile(r"offline-check:")
# The first line inside a marked region must open the durable_config block.
BLOCK_START = re.compile(r"^\s*durable_config\s*\{\s*$")
VERSION_625 = re.compile(r'(version\s*=\s*")>=\s*6\.25(\.\d+)?([^"]*")')
OFFLINE_VERSION = ">= 5.100"
SKIPPED_NAMES = frozenset({".terraform", ".terraform.lock.hcl", "terraform.tfstate"})


class OfflineCopyError(Exception):
    """The real tree cannot be turned into a valid offline copy."""


@dataclass(frozen=True, slots=True)
class Rewrite:
    """What was changed in one file."""

    path: str
    blocks_removed: int
    constraints_rewritten: int


def strip_durable_config(text: str, name: str) -> tuple[str, int]:
    """Remove every marked ``durable_config`` region from ``text``.

    Parameters
    ----------
    text
        Content of one ``.tf`` file.
    name
        Its path, for error messages.

    Returns
    -------
    tuple[str, int]
        The text without the marked regions and how many were removed.

    Raises
    ------
    OfflineCopyError
        On an unbalanced or nested marker, or a region that is not one durable_config block.
    """
    out: list[str] = []
    region: list[str] | None = None
    begin_line = 0
    removed = 0
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        if BEGIN.match(line):
            if region is not None:
                raise OfflineCopyError(f"{name}:{number}: nested {MARKER}:begin")
            region, begin_line = [], number
            continue
        if END.match(line):
            if region is None:
                raise OfflineCopyError(f"{name}:{number}: {MARKER}:end without a begin")
            _check_region(region, name, begin_line)
            region = None
            removed += 1
            continue
        if ANY_MARKER.search(line):
            raise OfflineCopyError(f"{name}:{number}: unknown marker: {line.strip()}")
        if region is not None:
            region.append(line)
        else:
            out.append(line)
    if region is not None:
        raise OfflineCopyError(f"{name}:{begin_line}: {MARKER}:begin without an end")
    return "".join(out), removed


def _check_region(region: list[str], name: str, begin_line: int) -> None:
    body = [line for line in region if line.strip()]
    if not body or not BLOCK_START.match(body[0]) or body[-1].strip() != "}":
        raise OfflineCopyError(
            f"{name}:{begin_line}: a marked region must hold exactly one durable_config block"
        )
    depth = 0
    for line in body:
        depth += line.count("{") - line.count("}")
        if depth == 0 and line is not body[-1]:
            raise OfflineCopyError(
                f"{name}:{begin_line}: a marked region holds more than the durable_config block"
            )
    if depth != 0:
        raise OfflineCopyError(f"{name}:{begin_line}: unbalanced braces in the marked region")


def rewrite_versions(text: str) -> tuple[str, int]:
    """Rewrite ``>= 6.25`` provider constraints to ``>= 5.100``; return text and count."""
    return VERSION_625.subn(lambda m: f"{m.group(1)}{OFFLINE_VERSION}{m.group(3)}", text)


def rewrite_file(text: str, name: str) -> tuple[str, Rewrite]:
    """Apply both rewrites to one ``.tf`` file and check nothing is left behind."""
    stripped, blocks = strip_durable_config(text, name)
    result, constraints = rewrite_versions(stripped)
    if re.search(r"durable_config\s*\{", result):
        raise OfflineCopyError(f"{name}: a durable_config block is not inside the markers")
    if re.search(r">=\s*6\.25", result):
        raise OfflineCopyError(f"{name}: a 6.25 version constraint was not rewritten")
    return result, Rewrite(name, blocks, constraints)


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

    Raises
    ------
    OfflineCopyError
        When the real tree breaks a marker rule, or no durable_config block was removed.
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
    if sum(r.blocks_removed for r in rewrites) == 0:
        raise OfflineCopyError("no durable_config block was found between markers")
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
        if r.blocks_removed or r.constraints_rewritten:
            print(
                f"tf-offline: {r.path}: removed {r.blocks_removed} durable_config block(s), "
                f"rewrote {r.constraints_rewritten} version constraint(s)"
            )
    print(f"tf-offline: copy for provider 5.100 written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
