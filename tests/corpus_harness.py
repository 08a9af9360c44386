"""Reading the bad-input corpus (``tests/corpus/*.json``) into cases the tests can run.

Each file holds one family of hostile inputs with the entry point it goes to and, per
case, the typed error expected (the class name in :mod:`albums.domain.errors`, or
``null`` for a control case that must be accepted). Values may be built rather than
spelled out, so that a 10 kB name or a 1,025-byte key stays readable in the data file:

``{"$repeat": text, "times": n}``
    ``text`` repeated ``n`` times.
``{"$concat": [part, ...]}``
    The parts (each expanded) joined.
``{"$json": value}``
    ``value`` (expanded) serialised as compact JSON text.
``{"$thisYear": offset}``
    The current year plus ``offset``.
``{"$albums": {"take", "extra", "set", "unset", "replace"}}``
    A list of albums made from the family's base albums (see :func:`build_albums`).
``{"$rawYear": literal}``
    The base albums as JSON text, the first album's year written as ``literal``
    (``NaN``, ``2e3``: numbers JSON data cannot hold).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from albums.domain import errors
from albums.domain.models import current_year

CORPUS_DIR: Final = Path(__file__).resolve().parent / "corpus"
FAMILIES: Final = ("s3_keys", "events", "vision_outputs", "submissions")
_RAW_YEAR_MARK: Final = "__corpus_raw_year__"


class CorpusError(ValueError):
    """A corpus file is malformed (unknown operator, bad path, unknown error class)."""


@dataclass(frozen=True, slots=True)
class Case:
    """One hostile input, its entry point and the error it must end with."""

    id: str
    family: str
    entry: str
    error: str | None
    tags: tuple[str, ...]
    why: str
    data: Mapping[str, Any]

    def __str__(self) -> str:
        return self.id


def error_names() -> frozenset[str]:
    """Names of every typed error the domain defines."""
    return frozenset(
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, errors.AlbumRegistrationError)
    )


def load_family(
    name: str,
    base_albums: Sequence[Mapping[str, Any]] | None = None,
    *,
    directory: Path = CORPUS_DIR,
) -> list[Case]:
    """Read ``{directory}/{name}.json`` into cases, every value expanded.

    Parameters
    ----------
    name
        The family's file name without ``.json``.
    base_albums
        What ``$albums`` starts from; default: the file's ``baseAlbums``.
    directory
        Where the corpus is (``tests/corpus``).

    Raises
    ------
    CorpusError
        When the file breaks the corpus format (an unknown error class or operator, a
        duplicate id, a case without its reason).
    """
    document = json.loads((directory / f"{name}.json").read_text(encoding="utf-8"))
    base = list(base_albums if base_albums is not None else document.get("baseAlbums", []))
    default_entry = str(document.get("entry", document["family"]))
    known = error_names()
    cases: list[Case] = []
    for raw in document["cases"]:
        error = raw.get("error")
        if error is not None and error not in known:
            raise CorpusError(f"{raw['id']}: {error!r} is not an error of albums.domain.errors")
        if "error" not in raw or not str(raw.get("why", "")).strip():
            raise CorpusError(f"{raw.get('id')}: every case states its error and why")
        if any(case.id == raw["id"] for case in cases):
            raise CorpusError(f"{raw['id']}: the id is used twice")
        data = {
            key: expand(value, base)
            for key, value in raw.items()
            if key not in {"id", "entry", "error", "tags", "why"}
        }
        cases.append(
            Case(
                id=str(raw["id"]),
                family=name,
                entry=str(raw.get("entry", default_entry)),
                error=error,
                tags=tuple(raw.get("tags", ())),
                why=str(raw["why"]),
                data=data,
            )
        )
    return cases


def expand(value: Any, base_albums: Sequence[Mapping[str, Any]]) -> Any:
    """Return ``value`` with every ``$`` operator replaced by what it builds."""
    if isinstance(value, list):
        return [expand(item, base_albums) for item in value]
    if not isinstance(value, dict):
        return value
    operator = next((key for key in value if key.startswith("$")), None)
    if operator is None:
        return {key: expand(item, base_albums) for key, item in value.items()}
    build = _OPERATORS.get(operator)
    if build is None:
        raise CorpusError(f"unknown corpus operator {operator!r}")
    return build(value, base_albums)


def _raw_year(value: Mapping[str, Any], base: Sequence[Mapping[str, Any]]) -> str:
    albums = build_albums(base, {"set": {"0.year": _RAW_YEAR_MARK}})
    return json.dumps(albums).replace(f'"{_RAW_YEAR_MARK}"', str(value["$rawYear"]))


_Operator = Callable[[Mapping[str, Any], Sequence[Mapping[str, Any]]], Any]
_OPERATORS: Final[Mapping[str, _Operator]] = {
    "$repeat": lambda value, _: str(value["$repeat"]) * int(value["times"]),
    "$concat": lambda value, base: "".join(str(expand(part, base)) for part in value["$concat"]),
    "$json": lambda value, base: json.dumps(expand(value["$json"], base), ensure_ascii=False),
    "$thisYear": lambda value, _: current_year() + int(value["$thisYear"]),
    "$albums": lambda value, base: build_albums(base, expand(value["$albums"], base)),
    "$rawYear": _raw_year,
}


def build_albums(
    base: Sequence[Mapping[str, Any]], spec: Mapping[str, Any]
) -> list[dict[str, Any] | Any]:
    """Albums made from ``base``: the first ``take``, then ``extra``, then the edits.

    ``set`` (``{"position.field": value}``) and ``unset`` (``["position.field"]``) edit
    one field of the album at ``position`` (0-based); ``replace`` (``{"position": value}``)
    puts any value in the album's place.
    """
    albums: list[Any] = [copy.deepcopy(dict(album)) for album in base]
    albums = albums[: int(spec.get("take", len(albums)))] + list(spec.get("extra", []))
    for path, new in dict(spec.get("set", {})).items():
        position, field = _album_path(path, len(albums))
        albums[position][field] = new
    for path in spec.get("unset", []):
        position, field = _album_path(path, len(albums))
        albums[position].pop(field, None)
    for position, new in dict(spec.get("replace", {})).items():
        albums[int(position)] = new
    return albums


def _album_path(path: str, count: int) -> tuple[int, str]:
    position, _, field = path.partition(".")
    if not field or not position.isdigit() or int(position) >= count:
        raise CorpusError(f"not a 'position.field' of {count} albums: {path!r}")
    return int(position), field


def patched(event: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of ``event`` with ``patch``'s ``set`` and ``unset`` dotted paths applied."""
    result = copy.deepcopy(dict(event))
    for path, new in dict(patch.get("set", {})).items():
        parent, name = _parent(result, path)
        parent[name] = new
    for path in patch.get("unset", []):
        parent, name = _parent(result, path)
        parent.pop(name, None)
    return result


def _parent(document: dict[str, Any], path: str) -> tuple[dict[str, Any], str]:
    *names, last = path.split(".")
    node: Any = document
    for name in names:
        node = node.get(name) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            raise CorpusError(f"{path!r} does not name a field of the event")
    return node, last
