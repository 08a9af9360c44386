"""scripts/package.py: the layer, function zips and manifest are right and reproducible.

The full build runs twice (module-scoped fixture) using the shared wheel cache in
build/wheels, so only the first run of a fresh clone downloads wheels. Error cases use a small
fake repository and fail before pip runs.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import hashlib
import importlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts import package
from scripts.package import BuildConfig, Manifest, PackagingError

REPO = Path(__file__).resolve().parents[2]
LAYER_LOCK = REPO / "shared_layer" / "requirements.txt"
LAYER_IN = REPO / "shared_layer" / "requirements.in"
SERVICES = package.read_services(REPO / "shared_layer" / "botocore-services.txt")
FUNCTION_NAMES = sorted(p.parent.name for p in (REPO / "functions").glob("*/handler.py"))
# Every handler is real: none raises NotImplementedError any more.
PLACEHOLDERS = sorted(
    path.parent.name
    for path in [*(REPO / "functions").glob("*/handler.py"), REPO / "orchestrator" / "handler.py"]
    if "NotImplementedError" in path.read_text(encoding="utf-8")
)


@dataclass(frozen=True)
class Builds:
    first: Manifest
    first_dir: Path
    second_dir: Path
    cli_exit: int
    cli_output: str


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Builds:
    """Build everything twice (in-process, then through the CLI) with the shared wheel cache."""
    cache = REPO / "build" / "wheels"
    first_dir = tmp_path_factory.mktemp("dist-a")
    second_dir = tmp_path_factory.mktemp("dist-b")
    # A previous build's manifest lists a zip this build no longer makes: it must go.
    (second_dir / "retired.zip").write_bytes(b"old")
    (second_dir / "manifest.json").write_text(
        json.dumps({"artifacts": [{"file": "retired.zip"}]}), encoding="utf-8"
    )
    first = package.build(BuildConfig(root=REPO, dist=first_dir, cache_dir=cache))
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        cli_exit = package.main(["--dist", str(second_dir), "--cache-dir", str(cache)])
    return Builds(first, first_dir, second_dir, cli_exit, output.getvalue())


def _manifest(dist: Path) -> dict[str, object]:
    data = json.loads((dist / "manifest.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _entries(builds: Builds) -> list[dict[str, object]]:
    artifacts = _manifest(builds.first_dir)["artifacts"]
    assert isinstance(artifacts, list)
    return artifacts


# --- the real build ---------------------------------------------------------------------------


def test_building_twice_gives_byte_identical_zips_and_manifest(builds: Builds) -> None:
    first = (builds.first_dir / "manifest.json").read_bytes()
    assert first == (builds.second_dir / "manifest.json").read_bytes()
    for entry in _entries(builds):
        name = str(entry["file"])
        assert (builds.first_dir / name).read_bytes() == (builds.second_dir / name).read_bytes()
    assert not (builds.second_dir / "retired.zip").exists()


def test_manifest_describes_every_artifact_exactly(builds: Builds) -> None:
    manifest = _manifest(builds.first_dir)
    entries = _entries(builds)
    assert [e["file"] for e in entries] == sorted(str(e["file"]) for e in entries)
    expected = {"shared_layer": "layer", "orchestrator": "orchestrator"}
    expected |= dict.fromkeys(FUNCTION_NAMES, "function")
    assert {e["name"]: e["kind"] for e in entries} == expected
    for entry in entries:
        data = (builds.first_dir / str(entry["file"])).read_bytes()
        digest = hashlib.sha256(data).digest()
        assert entry["sha256"] == digest.hex()
        assert entry["sha256_base64"] == base64.b64encode(digest).decode()
        assert entry["bytes"] == len(data)
        with zipfile.ZipFile(builds.first_dir / str(entry["file"])) as archive:
            assert entry["unzipped_bytes"] == sum(i.file_size for i in archive.infolist())
        if entry["kind"] == "layer":
            assert entry["handler"] is None
        else:
            assert entry["handler"] == f"{entry['name']}.handler.handler"
    locks = manifest["locks"]
    assert isinstance(locks, dict)
    assert (
        locks["shared_layer/requirements.txt"]
        == hashlib.sha256(LAYER_LOCK.read_bytes()).hexdigest()
    )
    assert "orchestrator/requirements.txt" in locks
    assert manifest["layer_botocore_services"] == sorted(SERVICES)
    assert manifest["target"] == {
        "architecture": "arm64",
        "platforms": ["manylinux2014_aarch64", "manylinux_2_28_aarch64"],
        "runtime": "python3.13",
    }
    assert builds.first.layer.bytes <= package.LAYER_BUDGET_BYTES


def test_every_zip_entry_is_normalised(builds: Builds) -> None:
    for entry in _entries(builds):
        with zipfile.ZipFile(builds.first_dir / str(entry["file"])) as archive:
            infos = archive.infolist()
            assert [i.filename for i in infos] == sorted(i.filename for i in infos)
            for info in infos:
                assert info.date_time == (1980, 1, 1, 0, 0, 0)
                assert info.create_system == 3
                assert stat.S_IMODE(info.external_attr >> 16) in {0o644, 0o755}
                assert info.compress_type == zipfile.ZIP_DEFLATED
                parts = info.filename.split("/")
                assert "__pycache__" not in parts
                assert not info.filename.endswith((".pyc", ".pyo"))


def test_layer_has_the_lambda_layout_and_no_build_machine_traces(builds: Builds) -> None:
    with zipfile.ZipFile(builds.first_dir / "shared_layer.zip") as archive:
        names = archive.namelist()
        records = [archive.read(n).decode() for n in names if n.endswith(".dist-info/RECORD")]
    assert all(n.startswith("python/") for n in names)
    assert "python/albums/__init__.py" in names
    assert "python/albums/py.typed" in names
    assert "python/albums/domain/keys.py" in names
    albums = [n for n in names if n.startswith("python/albums/")]
    assert all(n.endswith((".py", "py.typed")) or "/data/" in n for n in albums)
    for top in (
        "boto3",
        "botocore",
        "aws_lambda_powertools",
        "aws_durable_execution_sdk_python",
        "aws_xray_sdk",
        "PIL",
    ):
        assert f"python/{top}/__init__.py" in names
    assert not any(n.startswith("python/bin/") for n in names)
    assert not any(n.rsplit("/", 1)[-1] in package.INSTALLER_FILES for n in names)
    # RECORD lists only shipped files (no removed scripts, no pruned service models).
    shipped = {n.removeprefix("python/") for n in names}
    listed = {line.rsplit(",", 2)[0] for record in records for line in record.splitlines()}
    assert listed <= shipped
    assert any(p.startswith("botocore/data/dynamodb/") for p in listed)


def test_layer_keeps_only_the_listed_botocore_services(builds: Builds) -> None:
    with zipfile.ZipFile(builds.first_dir / "shared_layer.zip") as archive:
        names = archive.namelist()
    data = "python/botocore/data/"
    services = {
        n[len(data) :].split("/")[0] for n in names if n.startswith(data) and n.count("/") > 4
    }
    assert services == set(SERVICES)
    top_files = {n[len(data) :] for n in names if n.startswith(data) and n.count("/") == 3}
    assert {"endpoints.json", "partitions.json", "_retry.json"} <= top_files
    assert "sdk-default-configuration.json" in top_files


def test_layer_imports_on_a_plain_interpreter(builds: Builds, tmp_path: Path) -> None:
    """The pure parts of the layer import from the unzipped layer alone (no site-packages).

    The aarch64 binaries (Pillow, wrapt) cannot load on this machine; boto3/botocore are
    pure, so creating a client for every kept service proves the pruned models suffice.
    """
    with zipfile.ZipFile(builds.first_dir / "shared_layer.zip") as archive:
        archive.extractall(tmp_path)
    code = (
        "import albums, albums.domain.keys, albums.domain.models, boto3\n"
        "session = boto3.session.Session(region_name='us-east-1')\n"
        "for name in session.get_available_services(): session.client(name)\n"
        "print(albums.__file__, boto3.__file__, *sorted(session.get_available_services()))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "python"), "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    albums_file, boto3_file, *services = result.stdout.split()
    assert Path(albums_file).is_relative_to(tmp_path / "python")
    assert Path(boto3_file).is_relative_to(tmp_path / "python")
    assert services == sorted(SERVICES)


def test_function_zips_hold_only_their_own_package(builds: Builds) -> None:
    for entry in _entries(builds):
        if entry["kind"] == "layer":
            continue
        name = str(entry["name"])
        with zipfile.ZipFile(builds.first_dir / str(entry["file"])) as archive:
            names = archive.namelist()
        assert f"{name}/__init__.py" in names
        assert all(n.startswith(f"{name}/") for n in names), names
        assert not any(n.split("/")[-1].startswith("requirements") for n in names)
        assert not {n.split("/")[0] for n in names} & {"albums", "boto3", "botocore"}


def test_handler_strings_point_at_a_handler_function(builds: Builds) -> None:
    for entry in _entries(builds):
        if entry["handler"] is None:
            continue
        module, function = str(entry["handler"]).rsplit(".", 1)
        with zipfile.ZipFile(builds.first_dir / str(entry["file"])) as archive:
            tree = ast.parse(archive.read(module.replace(".", "/") + ".py"))
        assert function in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}


def test_cli_prints_a_table_of_artifacts_and_sizes(builds: Builds) -> None:
    assert builds.cli_exit == 0
    lines = builds.cli_output.splitlines()
    assert lines[0].split() == ["artifact", "kind", "zipped", "unzipped", "handler"]
    assert any(line.startswith("shared_layer.zip") and " MB " in line for line in lines)
    for name in FUNCTION_NAMES:
        assert any(
            line.startswith(f"{name}.zip") and line.endswith(f"{name}.handler.handler")
            for line in lines
        )
    assert any(line.startswith("layer: ") and "budget 20 MB" in line for line in lines)


# --- placeholders ------------------------------------------------------------------------------


def test_every_handler_imports_side_by_side() -> None:
    for name in [*FUNCTION_NAMES, "orchestrator"]:
        assert callable(importlib.import_module(f"{name}.handler").handler)


def test_no_handler_is_a_placeholder() -> None:
    assert PLACEHOLDERS == []


# --- error cases on a small fake repository (no pip) ---------------------------------------------


def _fake_repo(root: Path, layer_in: str | None = None) -> Path:
    (root / "shared_layer" / "albums").mkdir(parents=True)
    (root / "shared_layer" / "albums" / "__init__.py").write_text('"""x"""\n')
    shutil.copy(LAYER_LOCK, root / "shared_layer" / "requirements.txt")
    (root / "shared_layer" / "requirements.in").write_text(
        LAYER_IN.read_text() if layer_in is None else layer_in
    )
    shutil.copy(REPO / "shared_layer" / "botocore-services.txt", root / "shared_layer")
    _function(root / "functions" / "hello")
    return root


def _function(folder: Path, body: str = "def handler(event, context):\n    return {}\n") -> None:
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    (folder / "handler.py").write_text(body)


def _fails(root: Path, capsys: pytest.CaptureFixture[str], *expected: str) -> None:
    """The build exits 1 with one line naming the problem, and writes nothing to dist."""
    dist = root / "dist"
    assert (
        package.main(["--root", str(root), "--dist", str(dist), "--cache-dir", str(root / "c")])
        == 1
    )
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("package.py: error:")
    for text in expected:
        assert text in err
    assert not dist.exists()


def test_missing_layer_lock_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _fake_repo(tmp_path)
    (root / "shared_layer" / "requirements.txt").unlink()
    _fails(root, capsys, "shared_layer/requirements.txt is missing", "make lock")


def test_lock_missing_a_requirement_of_its_in_file_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _fake_repo(tmp_path, layer_in=LAYER_IN.read_text() + "requests>=2\n")
    _fails(root, capsys, "out of date", "requests", "make lock")


def test_lock_contradicting_its_in_file_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _fake_repo(tmp_path, layer_in="pillow>=14\n")
    _fails(root, capsys, "out of date", "pillow==13.0.0", "make lock")


def test_unhashed_pin_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _fake_repo(tmp_path, layer_in="")
    (root / "shared_layer" / "requirements.txt").write_text("six==1.17.0\n")
    _fails(root, capsys, "six has no --hash", "make lock")


def test_function_lock_without_its_in_file_counterpart_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _fake_repo(tmp_path)
    (root / "functions" / "hello" / "requirements.in").write_text("six\n")
    _fails(root, capsys, "functions/hello/requirements.txt is missing", "make lock")


def test_function_pinning_a_layer_package_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _fake_repo(tmp_path)
    pinned = "jmespath==" + LAYER_LOCK.read_text().split("jmespath==")[1].split("    # via")[0]
    (root / "functions" / "hello" / "requirements.txt").write_text(pinned)
    _fails(root, capsys, "functions/hello/requirements.txt pins jmespath", "layer provides")


@pytest.mark.parametrize("name", ["albums", "boto3", "botocore", "six"])
def test_function_named_like_a_layer_package_fails(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _fake_repo(tmp_path)
    _function(root / "functions" / name)
    _fails(root, capsys, f"functions/{name}", "rename")


def test_handler_without_a_handler_function_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _fake_repo(tmp_path)
    _function(root / "orchestrator", body="def main(event, context):\n    return {}\n")
    _fails(root, capsys, "orchestrator/handler.py defines no top-level `def handler`")


def test_function_folder_that_is_not_a_package_name_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _fake_repo(tmp_path)
    _function(root / "functions" / "my-function")
    _fails(root, capsys, "my-function", "not a Python package name")


def test_pip_failure_is_one_line_with_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _fake_repo(tmp_path, layer_in="")
    # A lock whose wheel is in no index pip can see (offline, empty find-links).
    (root / "shared_layer" / "requirements.txt").write_text(
        "six==1.17.0 \\\n    --hash=sha256:" + "0" * 64 + "\n"
    )
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "nowhere"))
    dist = root / "dist"
    assert (
        package.main(["--root", str(root), "--dist", str(dist), "--cache-dir", str(root / "c")])
        == 1
    )
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "pip download failed for shared_layer/requirements.txt" in err
    assert "make lock" in err
    assert not list(dist.glob("*.zip"))
    assert not [p for p in (root / "c").iterdir() if p.is_dir()]  # no half-filled cache


# --- the pieces ----------------------------------------------------------------------------------


def _layer(unzipped: int = 1) -> package.Artifact:
    return package.Artifact(
        name="shared_layer",
        kind=package.ArtifactKind.LAYER,
        file="shared_layer.zip",
        sha256="0" * 64,
        sha256_base64="",
        bytes=1,
        unzipped_bytes=unzipped,
    )


def test_function_zip_that_would_shadow_a_layer_package_fails(tmp_path: Path) -> None:
    _function(tmp_path / "repo" / "functions" / "pil_tools")
    source = package.Source(
        name="pil_tools",
        kind=package.ArtifactKind.FUNCTION,
        folder=tmp_path / "repo" / "functions" / "pil_tools",
        lock=None,
    )
    config = BuildConfig(root=tmp_path / "repo", dist=tmp_path, cache_dir=tmp_path / "c")
    with pytest.raises(PackagingError, match=r"pil_tools\.zip would contain pil_tools"):
        package.build_source(config, source, _layer(), provided={"pil_tools", "PIL"})
    assert not (tmp_path / "pil_tools.zip").exists()


def test_function_and_layer_over_lambdas_unzipped_limit_fails(tmp_path: Path) -> None:
    _function(tmp_path / "repo" / "functions" / "big")
    source = package.Source(
        name="big",
        kind=package.ArtifactKind.FUNCTION,
        folder=tmp_path / "repo" / "functions" / "big",
        lock=None,
    )
    config = BuildConfig(root=tmp_path / "repo", dist=tmp_path, cache_dir=tmp_path / "c")
    with pytest.raises(PackagingError, match="250 MB"):
        package.build_source(config, source, _layer(package.LAMBDA_UNZIPPED_LIMIT_BYTES), set())


def test_prune_botocore_keeps_listed_services_and_top_level_files(tmp_path: Path) -> None:
    data = tmp_path / "botocore" / "data"
    for service in ("s3", "ec2", "dynamodb"):
        (data / service / "2020-01-01").mkdir(parents=True)
        (data / service / "2020-01-01" / "service-2.json.gz").write_bytes(b"x")
    (data / "endpoints.json").write_text("{}")
    assert package.prune_botocore(tmp_path, ["s3", "dynamodb"]) == ("dynamodb", "s3")
    assert sorted(p.name for p in data.iterdir()) == ["dynamodb", "endpoints.json", "s3"]


def test_prune_botocore_fails_loudly_on_an_unknown_service_and_deletes_nothing(
    tmp_path: Path,
) -> None:
    data = tmp_path / "botocore" / "data"
    for service in ("s3", "ec2"):
        (data / service).mkdir(parents=True)
    with pytest.raises(PackagingError, match="s4"):
        package.prune_botocore(tmp_path, ["s3", "s4"])
    assert sorted(p.name for p in data.iterdir()) == ["ec2", "s3"]


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "lists no service"), ("s3\ns3\n", "listed twice"), ("S3 Bucket\n", "malformed")],
)
def test_services_file_is_validated(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "services.txt"
    path.write_text(text)
    with pytest.raises(PackagingError, match=message):
        package.read_services(path)


def test_services_file_lists_what_the_layer_needs() -> None:
    assert set(SERVICES) >= {
        "s3",
        "dynamodb",
        "bedrock-runtime",
        "lambda",
        "stepfunctions",
        "sns",
        "sqs",
        "xray",
        "sts",
    }


def test_normalise_installed_removes_build_machine_traces(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "jp.py").write_text(f"#!{sys.executable}\n")
    (tmp_path / "pkg" / "__pycache__").mkdir(parents=True)
    (tmp_path / "pkg" / "__init__.py").write_text("")
    info = tmp_path / "pkg-1.0.dist-info"
    info.mkdir()
    for name in ("INSTALLER", "REQUESTED", "direct_url.json", "METADATA"):
        (info / name).write_text("x")
    (info / "RECORD").write_text(
        "../../bin/jp.py,sha256=abc,10\npkg/__init__.py,sha256=def,0\n"
        "pkg-1.0.dist-info/INSTALLER,,\npkg-1.0.dist-info/METADATA,,\npkg-1.0.dist-info/RECORD,,\n"
    )
    package.normalise_installed(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pkg", "pkg-1.0.dist-info"]
    assert sorted(p.name for p in info.iterdir()) == ["METADATA", "RECORD"]
    assert not (tmp_path / "pkg" / "__pycache__").exists()
    assert (info / "RECORD").read_text() == (
        "pkg/__init__.py,sha256=def,0\npkg-1.0.dist-info/METADATA,,\npkg-1.0.dist-info/RECORD,,\n"
    )


def test_layer_package_copies_code_and_declared_data_only(tmp_path: Path) -> None:
    src = tmp_path / "repo" / "shared_layer" / "albums"
    (src / "data").mkdir(parents=True)
    (src / "domain" / "__pycache__").mkdir(parents=True)
    for name in (
        "__init__.py",
        "py.typed",
        "domain/__init__.py",
        "domain/__pycache__/x.pyc",
        "data/prices.json",
        "data/notes.txt",
        "domain/data.json",
    ):
        (src / name).write_text("x")
    skipped = package.copy_layer_package(tmp_path / "repo", tmp_path / "python")
    copied = sorted(
        p.relative_to(tmp_path / "python").as_posix()
        for p in (tmp_path / "python").rglob("*")
        if p.is_file()
    )
    assert copied == [
        "albums/__init__.py",
        "albums/data/prices.json",
        "albums/domain/__init__.py",
        "albums/py.typed",
    ]
    assert sorted(skipped) == ["albums/data/notes.txt", "albums/domain/data.json"]


def test_zip_tree_is_deterministic_across_folders_and_modes(tmp_path: Path) -> None:
    outputs = []
    for folder, umask_mode in (("a", 0o600), ("b", 0o664)):
        staging = tmp_path / folder
        (staging / "pkg").mkdir(parents=True)
        (staging / "pkg" / "b.py").write_text("b")
        (staging / "pkg" / "a.so").write_bytes(b"\x7fELF")
        (staging / "pkg" / "b.py").chmod(umask_mode)
        (staging / "pkg" / "a.so").chmod(0o755)
        out = tmp_path / f"{folder}.zip"
        assert package.zip_tree(staging, out, (2024, 5, 6, 7, 8, 10)) == 5
        outputs.append(out.read_bytes())
        with zipfile.ZipFile(out) as archive:
            modes = {i.filename: stat.S_IMODE(i.external_attr >> 16) for i in archive.infolist()}
            assert {i.date_time for i in archive.infolist()} == {(2024, 5, 6, 7, 8, 10)}
        assert modes == {"pkg/a.so": 0o755, "pkg/b.py": 0o644}
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", (1980, 1, 1, 0, 0, 0)),
        ("0", (1980, 1, 1, 0, 0, 0)),
        ("1700000000", (2023, 11, 14, 22, 13, 20)),
    ],
)
def test_zip_timestamp_comes_from_source_date_epoch(value: str, expected: tuple[int, ...]) -> None:
    assert package.zip_date_time({"SOURCE_DATE_EPOCH": value}) == expected


def test_bad_source_date_epoch_fails() -> None:
    with pytest.raises(PackagingError, match="SOURCE_DATE_EPOCH"):
        package.zip_date_time({"SOURCE_DATE_EPOCH": "yesterday"})


def test_ci_script_is_strict_and_executable() -> None:
    script = REPO / ".ci" / "run"
    assert os.access(script, os.X_OK)
    text = script.read_text(encoding="utf-8")
    assert "set -euo pipefail" in text
    assert "make test" in text
    assert "make lint" in text
    bash = shutil.which("bash") or "/bin/bash"
    assert subprocess.run([bash, "-n", str(script)], check=False).returncode == 0  # noqa: S603
