"""Build the deployable artifacts: the shared layer, one zip per function, the orchestrator.

Run as ``python scripts/package.py --dist dist`` (``make package`` does). Writes:

- ``dist/shared_layer.zip``: the Lambda layer (``python/albums`` plus the locked runtime
  dependencies from ``shared_layer/requirements.txt``, installed for python3.13 arm64, with
  botocore's service models pruned to ``shared_layer/botocore-services.txt``);
- ``dist/<name>.zip`` for every ``functions/<name>/`` that has a ``handler.py``;
- ``dist/orchestrator.zip`` for the durable function;
- ``dist/manifest.json``: name, kind, file, sha256 (hex and base64), size and handler of
  each artifact, and the sha256 of every lock file it was built from.

The zips are reproducible: building twice gives byte-identical files (sorted entries, one
timestamp, normalised permissions, fixed compression, no installer bookkeeping that depends
on the build machine). Wheels are cached under ``build/wheels/<lock>-<hash>/`` so that a
rebuild with unchanged locks needs no network.
"""

from __future__ import annotations

import argparse
import ast
import base64
import contextlib
import fnmatch
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess  # nosec B404  # runs pip with our own interpreter, never a shell
import sys
import tempfile
import time
import tomllib
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path, PurePosixPath

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

REPO_ROOT = Path(__file__).resolve().parent.parent

# The Lambda runtime every artifact targets (python3.13 on Graviton).
LAMBDA_RUNTIME = "python3.13"
LAMBDA_ARCHITECTURE = "arm64"
LAMBDA_PYTHON_VERSION = "3.13"
LAMBDA_PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")
LAMBDA_IMPLEMENTATION = "cp"

LAYER_NAME = "shared_layer"
LAYER_PACKAGE = "albums"
ORCHESTRATOR_DIR = "orchestrator"
FUNCTIONS_DIR = "functions"
HANDLER_FILE = "handler.py"
HANDLER_FUNCTION = "handler"
SERVICES_FILE = "botocore-services.txt"

# The project's own budget for the layer (botocore alone is 16.5 MB zipped), and Lambda's
# hard limit for a function plus its layers, unzipped (250 MB).
LAYER_BUDGET_BYTES = 20_000_000
LAMBDA_UNZIPPED_LIMIT_BYTES = 262_144_000

# These come from the layer; a function zip that carried its own copy would shadow the
# layer's (function code is earlier on sys.path) and run a different version.
LAYER_ONLY_TOP_LEVEL = frozenset({"albums", "boto3", "botocore"})

# Used when pyproject.toml has no package-data for albums (mirrors its setting).
DEFAULT_PACKAGE_DATA = ("py.typed", "data/*.json")

# pip's bookkeeping that describes the build machine, not the runtime (see normalise_installed).
INSTALLER_FILES = frozenset({"INSTALLER", "REQUESTED", "direct_url.json"})

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
# zlib's default level: 9 saves 0.3% on the layer and takes three times as long.
ZIP_COMPRESSLEVEL = 6
_SERVICE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_PINNED = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(?P<version>[^\s;\\]+)"
)


class PackagingError(Exception):
    """A build problem with a one-line explanation of what to do about it."""


class ArtifactKind(StrEnum):
    """What an artifact is deployed as."""

    LAYER = "layer"
    FUNCTION = "function"
    ORCHESTRATOR = "orchestrator"


@dataclass(frozen=True)
class Lock:
    """A pip-tools lock file: exact pins with hashes.

    Parameters
    ----------
    path
        The ``requirements.txt`` file.
    pins
        Canonical project name -> pinned version.
    sha256
        Hex sha256 of the file's bytes (recorded in the manifest, keys the wheel cache).
    """

    path: Path
    pins: dict[str, str]
    sha256: str

    def __post_init__(self) -> None:
        if len(self.sha256) != 64:
            raise ValueError(f"sha256 must be 64 hex characters, got {self.sha256!r}")


@dataclass(frozen=True)
class Source:
    """One folder to package as a function or the orchestrator.

    Parameters
    ----------
    name
        The Python package name, which is also the artifact name and the zip's top folder.
    kind
        ``function`` or ``orchestrator``.
    folder
        The package folder (``functions/<name>`` or ``orchestrator``).
    lock
        Its own locked dependencies, or ``None`` when it has no requirements files.
    """

    name: str
    kind: ArtifactKind
    folder: Path
    lock: Lock | None

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise PackagingError(
                f"{self.folder}: folder name {self.name!r} is not a Python package name; "
                "rename it (letters, digits, underscores)"
            )
        if self.kind is ArtifactKind.LAYER:
            raise ValueError("a Source is a function or the orchestrator, not the layer")

    @property
    def handler(self) -> str:
        """The Lambda handler string, ``<package>.handler.handler``."""
        return f"{self.name}.{Path(HANDLER_FILE).stem}.{HANDLER_FUNCTION}"


@dataclass(frozen=True)
class Artifact:
    """A built zip, as recorded in ``manifest.json``."""

    name: str
    kind: ArtifactKind
    file: str
    sha256: str
    sha256_base64: str
    bytes: int
    unzipped_bytes: int
    handler: str | None = None

    def __post_init__(self) -> None:
        if self.bytes <= 0 or self.unzipped_bytes <= 0:
            raise ValueError(f"{self.file}: an artifact cannot be empty")
        if (self.handler is None) != (self.kind is ArtifactKind.LAYER):
            raise ValueError(f"{self.file}: functions have a handler, the layer has none")

    def as_json(self) -> dict[str, object]:
        """Return the manifest entry (plain JSON types)."""
        return {
            "name": self.name,
            "kind": str(self.kind),
            "file": self.file,
            "sha256": self.sha256,
            "sha256_base64": self.sha256_base64,
            "bytes": self.bytes,
            "unzipped_bytes": self.unzipped_bytes,
            "handler": self.handler,
        }


@dataclass(frozen=True)
class BuildConfig:
    """Where to read from and write to.

    Parameters
    ----------
    root
        The repository root (``shared_layer/``, ``functions/``, ``orchestrator/``).
    dist
        Output folder for the zips and ``manifest.json``.
    cache_dir
        Wheel cache; one sub-folder per lock content.
    date_time
        The timestamp written on every zip entry.
    """

    root: Path
    dist: Path
    cache_dir: Path
    date_time: tuple[int, int, int, int, int, int] = ZIP_EPOCH
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))

    def __post_init__(self) -> None:
        if self.date_time < ZIP_EPOCH:
            raise ValueError("zip timestamps cannot be earlier than 1980-01-01")

    def rel(self, path: Path) -> str:
        """Return ``path`` relative to the root when it is inside it (for messages)."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)


# ---------------------------------------------------------------------------------------------
# Lock files


def _logical_lines(text: str) -> Iterator[str]:
    """Yield requirement lines with backslash continuations joined and comments dropped."""
    pending = ""
    for raw in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line:
            yield line
    if pending.strip():
        yield pending.strip()


def read_requirements_in(path: Path, _seen: frozenset[Path] = frozenset()) -> list[Requirement]:
    """Read the top-level requirements of a ``requirements.in`` (following ``-r`` includes).

    Parameters
    ----------
    path
        The ``.in`` file.

    Returns
    -------
    list[Requirement]
        Every requirement, in file order.

    Raises
    ------
    PackagingError
        If the file or an included file is missing, or a line is not a requirement.
    """
    if path in _seen:
        return []
    if not path.is_file():
        raise PackagingError(f"{path} is missing; restore it (it is the source of its lock)")
    requirements: list[Requirement] = []
    for line in _logical_lines(path.read_text(encoding="utf-8")):
        option, _, value = line.partition(" ")
        if option in {"-r", "--requirement"}:
            included = (path.parent / value.strip()).resolve()
            requirements += read_requirements_in(included, _seen | {path})
        elif line.startswith("-"):
            continue  # -c constraints and index options do not name requirements
        else:
            try:
                requirements.append(Requirement(line))
            except InvalidRequirement as exc:
                raise PackagingError(f"{path}: {line!r} is not a requirement ({exc})") from exc
    return requirements


def read_lock(txt: Path, root: Path) -> Lock:
    """Read a pip-tools lock and check that it is hash-locked and current with its ``.in``.

    Parameters
    ----------
    txt
        The ``requirements.txt`` lock.
    root
        The repository root, for ``-r`` includes relative to it and readable messages.

    Returns
    -------
    Lock
        The pins and the file's sha256.

    Raises
    ------
    PackagingError
        If the lock is missing, has a pin without ``--hash``, or misses or contradicts a
        requirement of its ``requirements.in`` (the lock is out of date: run ``make lock``).
    """
    shown = txt.relative_to(root).as_posix() if txt.is_relative_to(root) else str(txt)
    if not txt.is_file():
        raise PackagingError(f"{shown} is missing; run `make lock` to create it")
    data = txt.read_bytes()
    pins: dict[str, str] = {}
    for line in _logical_lines(data.decode("utf-8")):
        if line.startswith("-"):
            continue
        match = _PINNED.match(line)
        if match is None:
            raise PackagingError(
                f"{shown}: {line.split()[0]!r} is not pinned with ==; run `make lock`"
            )
        if "--hash=" not in line:
            raise PackagingError(f"{shown}: {match['name']} has no --hash; run `make lock`")
        pins[canonicalize_name(match["name"])] = match["version"]
    source = txt.with_suffix(".in")
    if source.is_file():
        for requirement in read_requirements_in(source):
            name = canonicalize_name(requirement.name)
            if name not in pins:
                raise PackagingError(
                    f"{shown} is out of date: {requirement.name} from {source.name} is not "
                    "in it; run `make lock`"
                )
            try:
                version = Version(pins[name])
            except InvalidVersion as exc:
                raise PackagingError(f"{shown}: bad version for {name}: {exc}") from exc
            if not requirement.specifier.contains(version, prereleases=True):
                raise PackagingError(
                    f"{shown} is out of date: {name}=={version} does not satisfy "
                    f"{requirement} from {source.name}; run `make lock`"
                )
    return Lock(path=txt, pins=pins, sha256=hashlib.sha256(data).hexdigest())


def read_services(path: Path) -> tuple[str, ...]:
    """Read the botocore services to keep (one per line, ``#`` comments).

    Raises
    ------
    PackagingError
        If the file is missing or empty, or a name is malformed or repeated.
    """
    if not path.is_file():
        raise PackagingError(f"{path} is missing; it lists the botocore services the layer keeps")
    services: list[str] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        name = raw.split("#", 1)[0].strip()
        if not name:
            continue
        if not _SERVICE_NAME.match(name) or name in services:
            raise PackagingError(f"{path}:{number}: {name!r} is malformed or listed twice")
        services.append(name)
    if not services:
        raise PackagingError(f"{path} lists no service; the layer would have no AWS clients")
    return tuple(services)


# ---------------------------------------------------------------------------------------------
# pip: download once into the cache, install offline from it


def _pip(command: str, lock: Lock, label: str, extra: Sequence[str], config: BuildConfig) -> None:
    """Run ``python -m pip <command>`` for ``lock`` on the Lambda platform.

    A failure becomes one actionable line; pip's full output goes to a log in the cache.
    """
    args = [command, "--quiet", "--require-hashes", "--no-deps", "--only-binary=:all:"]
    args += ["--implementation", LAMBDA_IMPLEMENTATION, "--python-version", LAMBDA_PYTHON_VERSION]
    for platform in LAMBDA_PLATFORMS:
        args += ["--platform", platform]
    args += [*extra, "-r", str(lock.path)]
    env = {**config.env, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(  # nosec B603  # sys.executable -m pip with our arguments
        [sys.executable, "-m", "pip", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if result.returncode == 0:
        return
    config.cache_dir.mkdir(parents=True, exist_ok=True)
    log = config.cache_dir / f"pip-{command}-{label}.log"
    log.write_text(result.stdout + result.stderr, encoding="utf-8")
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("ERROR")]
    said = errors[-1] if errors else f"exit status {result.returncode}"
    todo = (
        "check access to the package index, or run `make lock` if the lock is stale"
        if command == "download"
        else f"delete {config.cache_dir} to download the wheels again"
    )
    raise PackagingError(
        f"pip {command} failed for {config.rel(lock.path)} ({said}); {todo}; full output in {log}"
    )


def cached_wheels(lock: Lock, label: str, config: BuildConfig) -> Path:
    """Return the cache folder holding every wheel of ``lock``, downloading it if needed.

    The folder name carries a hash of the lock content and the target platform, so a changed
    lock gets a new folder (older ones for the same label are removed). Downloads go to a
    temporary folder that is renamed when complete, so an interrupted build never leaves a
    half-filled cache behind.
    """
    platform = f"{LAMBDA_IMPLEMENTATION}{LAMBDA_PYTHON_VERSION}-{'+'.join(LAMBDA_PLATFORMS)}"
    key = hashlib.sha256(f"{lock.sha256} {platform}".encode()).hexdigest()[:16]
    wheels = config.cache_dir / f"{label}-{key}"
    if (wheels / ".complete").is_file():
        return wheels
    config.cache_dir.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{label}-", dir=config.cache_dir))
    try:
        _pip("download", lock, label, ["--dest", str(partial)], config)
        (partial / ".complete").write_text(lock.sha256 + "\n", encoding="utf-8")
        try:
            partial.rename(wheels)
        except OSError:
            if not (wheels / ".complete").is_file():  # not a concurrent build that won
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    for stale in config.cache_dir.glob(f"{label}-*"):
        if stale != wheels and stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
    return wheels


def install_lock(lock: Lock, label: str, target: Path, config: BuildConfig) -> None:
    """Install the wheels of ``lock`` for the Lambda platform into ``target`` (offline)."""
    if not lock.pins:
        return
    wheels = cached_wheels(lock, label, config)
    offline = ["--no-index", "--find-links", str(wheels), "--no-compile", "--target", str(target)]
    _pip("install", lock, label, offline, config)
    normalise_installed(target)


def normalise_installed(target: Path) -> None:
    """Remove what pip writes about the build machine, so the zip is reproducible.

    - ``bin/``: console scripts get a ``#!`` line naming the build machine's interpreter
      (e.g. jmespath's ``jp.py``), so their bytes depend on the checkout path; Lambda
      never runs them.
    - ``INSTALLER``, ``REQUESTED``, ``direct_url.json``: install provenance (``direct_url``
      holds the local wheel path when pip installs from a file URL), unused at run time.
    - ``RECORD`` is rewritten to list only files that are shipped: it otherwise names the
      removed scripts (with their path-dependent hashes) and the pruned botocore models.
    - ``__pycache__``: never wanted (pip runs with ``--no-compile``; this is a safety net).
    """
    shutil.rmtree(target / "bin", ignore_errors=True)
    for cache in sorted(target.rglob("__pycache__"), reverse=True):
        shutil.rmtree(cache, ignore_errors=True)
    for dist_info in target.glob("*.dist-info"):
        for name in INSTALLER_FILES:
            (dist_info / name).unlink(missing_ok=True)
    rewrite_records(target)


def rewrite_records(target: Path) -> None:
    """Keep only the ``RECORD`` lines of files that still exist under ``target``."""
    for record in sorted(target.glob("*.dist-info/RECORD")):
        kept = []
        for line in record.read_text(encoding="utf-8").splitlines():
            shipped = (target / line.rsplit(",", 2)[0].strip('"')).resolve()
            if line and shipped.is_file() and shipped.is_relative_to(target.resolve()):
                kept.append(line)
        record.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")


def prune_botocore(python_dir: Path, services: Iterable[str]) -> tuple[str, ...]:
    """Delete every ``botocore/data/<service>/`` that is not in ``services``.

    Top-level files of ``botocore/data`` (endpoints, partitions, retry and default config)
    are always kept.

    Returns
    -------
    tuple[str, ...]
        The services kept, sorted.

    Raises
    ------
    PackagingError
        If botocore is not installed or a listed service is not one of its models.
    """
    data = python_dir / "botocore" / "data"
    if not data.is_dir():
        raise PackagingError(f"botocore/data not found in the layer ({data}); is botocore locked?")
    available = {p.name for p in data.iterdir() if p.is_dir()}
    wanted = set(services)
    missing = sorted(wanted - available)
    if missing:
        raise PackagingError(
            f"{SERVICES_FILE} lists {', '.join(missing)}, which botocore does not know; "
            "fix the name (see boto3.session.Session().get_available_services())"
        )
    for name in sorted(available - wanted):
        shutil.rmtree(data / name)
    return tuple(sorted(wanted))


# ---------------------------------------------------------------------------------------------
# Copying our own code


def _package_data_patterns(root: Path) -> tuple[str, ...]:
    """Read ``albums``' package-data globs from pyproject.toml (the wheel's own rule)."""
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return DEFAULT_PACKAGE_DATA
    config = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    package_data = config.get("tool", {}).get("setuptools", {}).get("package-data", {})
    patterns = [*package_data.get(LAYER_PACKAGE, []), *package_data.get("*", [])]
    return tuple(patterns) or DEFAULT_PACKAGE_DATA


def _matches(relative: PurePosixPath, pattern: str) -> bool:
    """Match like setuptools package-data: component by component, ``*`` stays in one part."""
    parts = PurePosixPath(pattern).parts
    return len(parts) == len(relative.parts) and all(
        fnmatch.fnmatchcase(part, glob) for part, glob in zip(relative.parts, parts, strict=True)
    )


def _walk_files(folder: Path) -> Iterator[Path]:
    """Yield regular files under ``folder`` skipping caches, hidden entries and tests."""
    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        if any(p == "__pycache__" or p.startswith(".") or p in {"tests", "test"} for p in parts):
            continue
        if path.is_file() and not path.is_symlink():
            yield path


def copy_layer_package(root: Path, python_dir: Path) -> list[str]:
    """Copy ``shared_layer/albums`` into ``python_dir/albums``: code, py.typed, data files.

    Returns
    -------
    list[str]
        Files left out because they are neither code nor package data (warned about).
    """
    source = root / LAYER_NAME / LAYER_PACKAGE
    if not (source / "__init__.py").is_file():
        raise PackagingError(f"{source}/__init__.py is missing; the layer has no albums package")
    if (python_dir / LAYER_PACKAGE).exists():
        raise PackagingError(f"a locked dependency installs a top-level {LAYER_PACKAGE!r}")
    patterns = _package_data_patterns(root)
    skipped: list[str] = []
    for path in _walk_files(source):
        relative = PurePosixPath(path.relative_to(source).as_posix())
        if path.suffix in {".pyc", ".pyo"}:
            continue
        if path.suffix == ".py" or any(_matches(relative, p) for p in patterns):
            destination = python_dir / LAYER_PACKAGE / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
        else:
            skipped.append(f"{LAYER_PACKAGE}/{relative}")
    return skipped


def copy_source_package(source: Source, staging: Path) -> None:
    """Copy a function's package folder into ``staging/<name>`` without caches or locks."""
    for path in _walk_files(source.folder):
        relative = path.relative_to(source.folder)
        if path.suffix in {".pyc", ".pyo"} or re.fullmatch(r"requirements.*\.(in|txt)", path.name):
            continue
        destination = staging / source.name / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)


def has_handler_function(handler_py: Path) -> bool:
    """Return whether ``handler_py`` defines a top-level ``handler`` function."""
    tree = ast.parse(handler_py.read_bytes(), filename=str(handler_py))
    return any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == HANDLER_FUNCTION
        for node in tree.body
    )


# ---------------------------------------------------------------------------------------------
# Zips


def zip_date_time(env: dict[str, str]) -> tuple[int, int, int, int, int, int]:
    """Return the zip entry timestamp: SOURCE_DATE_EPOCH (UTC) if set, else 1980-01-01.

    Raises
    ------
    PackagingError
        If SOURCE_DATE_EPOCH is not a whole number of seconds.
    """
    value = env.get("SOURCE_DATE_EPOCH", "").strip()
    if not value:
        return ZIP_EPOCH
    if not value.isdigit():
        raise PackagingError(f"SOURCE_DATE_EPOCH={value!r} is not a number of seconds")
    moment = time.gmtime(int(value))
    stamp = (
        moment.tm_year,
        moment.tm_mon,
        moment.tm_mday,
        moment.tm_hour,
        moment.tm_min,
        moment.tm_sec,
    )
    return max(stamp, ZIP_EPOCH)  # zip cannot represent earlier dates


def zip_tree(staging: Path, output: Path, date_time: tuple[int, int, int, int, int, int]) -> int:
    """Write every file under ``staging`` to ``output`` deterministically.

    Entries are sorted by path, carry one timestamp, mode 0644 (0755 if the file is
    executable, such as the shared objects in Pillow's wheel) and Unix as creator, and are
    deflated at a fixed level. Directory entries are not written (Lambda needs none).

    Returns
    -------
    int
        Total unzipped size of the entries, in bytes.
    """
    files = sorted(
        (path.relative_to(staging).as_posix(), path)
        for path in staging.rglob("*")
        if path.is_file()
    )
    partial = output.with_name(output.name + ".partial")
    total = 0
    with zipfile.ZipFile(partial, "w") as archive:
        for arcname, path in files:
            info = zipfile.ZipInfo(arcname, date_time=date_time)
            info.create_system = 3  # Unix, so external_attr carries the permissions
            mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            data = path.read_bytes()
            total += len(data)
            archive.writestr(info, data, compresslevel=ZIP_COMPRESSLEVEL)
    partial.replace(output)
    return total


def human_size(size: int) -> str:
    """Return ``size`` in decimal kB or MB, as AWS quotes Lambda limits."""
    return f"{size / 1e6:.2f} MB" if size >= 1e6 else f"{size / 1e3:.1f} kB"


def describe(
    path: Path, name: str, kind: ArtifactKind, unzipped: int, handler: str | None
) -> Artifact:
    """Hash a built zip into its manifest entry."""
    digest = hashlib.sha256(path.read_bytes()).digest()
    return Artifact(
        name=name,
        kind=kind,
        file=path.name,
        sha256=digest.hex(),
        sha256_base64=base64.b64encode(digest).decode("ascii"),
        bytes=path.stat().st_size,
        unzipped_bytes=unzipped,
        handler=handler,
    )


def top_level_names(staging: Path) -> set[str]:
    """Return the importable top-level names (and dist-info projects) under ``staging``."""
    names: set[str] = set()
    for entry in staging.iterdir():
        if entry.name.endswith(".dist-info"):
            names.add(canonicalize_name(entry.name.removesuffix(".dist-info").rsplit("-", 1)[0]))
        names.add(entry.name.removesuffix(".py"))
    return names


# ---------------------------------------------------------------------------------------------
# The build


def discover_sources(root: Path) -> list[Source]:
    """Find every function folder (``functions/*/handler.py``) and the orchestrator.

    Raises
    ------
    PackagingError
        If a ``handler.py`` defines no ``handler`` function, a folder's lock is missing or
        stale, or a function lock pins a project the layer already provides.
    """
    candidates = [(p, ArtifactKind.FUNCTION) for p in sorted((root / FUNCTIONS_DIR).glob("*"))]
    candidates.append((root / ORCHESTRATOR_DIR, ArtifactKind.ORCHESTRATOR))
    sources = []
    for folder, kind in candidates:
        handler_py = folder / HANDLER_FILE
        if not handler_py.is_file():
            continue
        if not has_handler_function(handler_py):
            shown = handler_py.relative_to(root).as_posix()
            raise PackagingError(f"{shown} defines no top-level `def {HANDLER_FUNCTION}`")
        txt, source_in = folder / "requirements.txt", folder / "requirements.in"
        lock = read_lock(txt, root) if txt.is_file() or source_in.is_file() else None
        sources.append(Source(name=folder.name, kind=kind, folder=folder, lock=lock))
    if not sources:
        raise PackagingError(
            f"no {FUNCTIONS_DIR}/*/{HANDLER_FILE} and no {ORCHESTRATOR_DIR}/{HANDLER_FILE}"
        )
    return sources


def build_layer(
    config: BuildConfig, lock: Lock, services: tuple[str, ...]
) -> tuple[Artifact, set[str]]:
    """Build ``shared_layer.zip``; return its entry and the top-level names it provides."""
    with tempfile.TemporaryDirectory(prefix="layer-") as tmp:
        python_dir = Path(tmp) / "python"
        python_dir.mkdir()
        install_lock(lock, LAYER_NAME, python_dir, config)
        prune_botocore(python_dir, services)
        rewrite_records(python_dir)
        for skipped in copy_layer_package(config.root, python_dir):
            print(
                f"warning: {skipped} is not code or package data; left out of the layer",
                file=sys.stderr,
            )
        provided = top_level_names(python_dir)
        output = config.dist / f"{LAYER_NAME}.zip"
        unzipped = zip_tree(Path(tmp), output, config.date_time)
    artifact = describe(output, LAYER_NAME, ArtifactKind.LAYER, unzipped, None)
    if artifact.bytes > LAYER_BUDGET_BYTES:
        raise PackagingError(
            f"{output.name} is {artifact.bytes / 1e6:.2f} MB zipped, over the "
            f"{LAYER_BUDGET_BYTES / 1e6:.0f} MB budget; prune {SERVICES_FILE} or drop a dependency"
        )
    return artifact, provided


def build_source(
    config: BuildConfig, source: Source, layer: Artifact, provided: set[str]
) -> Artifact:
    """Build one function's (or the orchestrator's) zip."""
    with tempfile.TemporaryDirectory(prefix=f"{source.name}-") as tmp:
        staging = Path(tmp)
        if source.lock is not None:
            install_lock(source.lock, f"{source.kind}-{source.name}", staging, config)
        copy_source_package(source, staging)
        clashes = sorted(top_level_names(staging) & (provided | LAYER_ONLY_TOP_LEVEL))
        if clashes:
            raise PackagingError(
                f"{source.name}.zip would contain {', '.join(clashes)}, which the layer "
                f"provides; remove it from {config.rel(source.folder)} and its requirements"
            )
        output = config.dist / f"{source.name}.zip"
        unzipped = zip_tree(staging, output, config.date_time)
    together = layer.unzipped_bytes + unzipped
    if together > LAMBDA_UNZIPPED_LIMIT_BYTES:
        raise PackagingError(
            f"{source.name}: function and layer unzip to {together / 1e6:.0f} MB, "
            "over Lambda's 250 MB limit; move dependencies out or prune the layer"
        )
    return describe(output, source.name, source.kind, unzipped, source.handler)


def check_against_layer(sources: Sequence[Source], layer_lock: Lock, config: BuildConfig) -> None:
    """Fail early when a function would ship something the layer already provides.

    A package folder named like a layer package, or a function lock pinning a project the
    layer locks, would shadow the layer's copy at run time.
    """
    layer_names = set(layer_lock.pins) | LAYER_ONLY_TOP_LEVEL
    for source in sources:
        if source.name in layer_names or canonicalize_name(source.name) in layer_names:
            raise PackagingError(
                f"{config.rel(source.folder)} has the name of a layer package; rename the folder"
            )
        if source.lock is None:
            continue
        doubled = sorted(set(source.lock.pins) & layer_names)
        if doubled:
            raise PackagingError(
                f"{config.rel(source.lock.path)} pins {', '.join(doubled)}, which the layer "
                f"provides; remove it from {config.rel(source.lock.path.with_suffix('.in'))} "
                "and run `make lock`"
            )


@dataclass(frozen=True)
class Manifest:
    """What a build produced: the content of ``manifest.json``.

    Parameters
    ----------
    artifacts
        The zips, sorted by file name.
    services
        The botocore services kept in the layer, sorted.
    locks
        Lock file (relative path) -> sha256 of its bytes.
    """

    artifacts: tuple[Artifact, ...]
    services: tuple[str, ...]
    locks: dict[str, str]

    def __post_init__(self) -> None:
        if [a.file for a in self.artifacts] != sorted(a.file for a in self.artifacts):
            raise ValueError("manifest artifacts must be sorted by file name")
        if sum(a.kind is ArtifactKind.LAYER for a in self.artifacts) != 1:
            raise ValueError("a build has exactly one layer")

    @property
    def layer(self) -> Artifact:
        """The layer's entry."""
        return next(a for a in self.artifacts if a.kind is ArtifactKind.LAYER)

    def as_json(self) -> dict[str, object]:
        """Return the manifest as plain JSON types (no timestamps, so it is reproducible)."""
        return {
            "artifacts": [a.as_json() for a in self.artifacts],
            "layer_botocore_services": list(self.services),
            "locks": dict(sorted(self.locks.items())),
            "target": {
                "architecture": LAMBDA_ARCHITECTURE,
                "platforms": list(LAMBDA_PLATFORMS),
                "runtime": LAMBDA_RUNTIME,
            },
        }

    def table(self) -> str:
        """Return the artifacts and their sizes as a small text table."""
        rows = [("artifact", "kind", "zipped", "unzipped", "handler")]
        rows += [
            (
                a.file,
                str(a.kind),
                human_size(a.bytes),
                human_size(a.unzipped_bytes),
                a.handler or "-",
            )
            for a in self.artifacts
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        return "\n".join(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in rows
        )


def build(config: BuildConfig) -> Manifest:
    """Build every artifact into ``config.dist`` and write ``manifest.json``.

    Everything that can be checked without pip (locks, the services list, handlers) is
    checked first, so a mistake fails in a second without touching ``dist``.

    Returns
    -------
    Manifest
        What was built.

    Raises
    ------
    PackagingError
        On any problem, with one line saying what to do.
    """
    root = config.root
    layer_lock = read_lock(root / LAYER_NAME / "requirements.txt", root)
    services = read_services(root / LAYER_NAME / SERVICES_FILE)
    sources = discover_sources(root)
    check_against_layer(sources, layer_lock, config)

    # Zips are built in a scratch folder and moved into dist only when all succeeded, so a
    # failed build never leaves dist with a mix of new zips and an old manifest.
    config.dist.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".building-", dir=config.dist))
    try:
        staged = replace(config, dist=scratch)
        layer, provided = build_layer(staged, layer_lock, services)
        artifacts = [layer] + [build_source(staged, s, layer, provided) for s in sources]
        for artifact in artifacts:
            (scratch / artifact.file).replace(config.dist / artifact.file)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    locks = {config.rel(layer_lock.path): layer_lock.sha256}
    locks.update({config.rel(s.lock.path): s.lock.sha256 for s in sources if s.lock is not None})
    manifest = Manifest(
        artifacts=tuple(sorted(artifacts, key=lambda a: a.file)),
        services=tuple(sorted(services)),
        locks=locks,
    )
    _remove_stale(config.dist, {a.file for a in artifacts})
    text = json.dumps(manifest.as_json(), indent=2, sort_keys=True) + "\n"
    (config.dist / "manifest.json").write_text(text, encoding="utf-8")
    return manifest


def _remove_stale(dist: Path, current: set[str]) -> None:
    """Delete zips a previous build listed that this build no longer produces."""
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        previous = json.loads((dist / "manifest.json").read_text(encoding="utf-8"))
        for entry in previous["artifacts"]:
            name = str(entry["file"])
            if name not in current and "/" not in name and name.endswith(".zip"):
                (dist / name).unlink(missing_ok=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description="Build the layer, function zips and manifest.")
    parser.add_argument("--dist", type=Path, default=REPO_ROOT / "dist", help="output folder")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="repository root")
    parser.add_argument(
        "--cache-dir", type=Path, default=None, help="wheel cache (default: <root>/build/wheels)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Build everything and print a table; on failure print one line and return 1."""
    args = parse_args(argv)
    root = args.root.resolve()
    started = time.monotonic()
    try:
        config = BuildConfig(
            root=root,
            dist=args.dist.resolve(),
            cache_dir=(args.cache_dir or root / "build" / "wheels").resolve(),
            date_time=zip_date_time(dict(os.environ)),
        )
        manifest = build(config)
    except PackagingError as exc:
        print(f"package.py: error: {exc}", file=sys.stderr)
        return 1
    print(manifest.table())
    print(
        f"layer: {human_size(manifest.layer.bytes)} zipped "
        f"(budget {LAYER_BUDGET_BYTES / 1e6:.0f} MB), "
        f"botocore models for {len(manifest.services)} services"
    )
    elapsed = time.monotonic() - started
    print(f"wrote {config.rel(config.dist / 'manifest.json')} in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
