"""The 5.100 copy generator: markers are processed exactly, and every misuse fails loudly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scripts.tf_offline import (
    MARKERS,
    OfflineCopyError,
    generate,
    rewrite_file,
    strip_marked_regions,
)

REPO_ROOT = Path(__file__).resolve().parents[2]

BLOCK = """resource "aws_lambda_function" "this" {
  publish = true

  # offline-check:durable_config:begin
  durable_config {
    execution_timeout = var.execution_timeout
    retention_period  = var.retention_period
  }
  # offline-check:durable_config:end

  tracing_config {
    mode = "Active"
  }
}
"""

ARGUMENT = """resource "aws_lambda_permission" "url_invoke" {
  action    = "lambda:InvokeFunction"
  principal = "*"
  # offline-check:provider-6.28:begin
  invoked_via_function_url = true
  # offline-check:provider-6.28:end
}
"""


def test_marked_block_is_removed_and_nothing_else() -> None:
    text, removed = strip_marked_regions(BLOCK, "main.tf")
    assert removed == {"durable_config": 1}
    assert "durable_config" not in text
    assert "offline-check" not in text
    assert 'mode = "Active"' in text
    assert "publish = true" in text


def test_marked_argument_is_removed_and_nothing_else() -> None:
    text, removed = strip_marked_regions(ARGUMENT, "main.tf")
    assert removed == {"provider-6.28": 1}
    assert text == (
        'resource "aws_lambda_permission" "url_invoke" {\n'
        '  action    = "lambda:InvokeFunction"\n'
        '  principal = "*"\n'
        "}\n"
    )


def test_both_markers_in_one_file_are_counted_apart() -> None:
    _, rewrite = rewrite_file(BLOCK + "\n" + ARGUMENT + ARGUMENT, "main.tf")
    assert rewrite.regions_removed == {"durable_config": 1, "provider-6.28": 2}


def test_every_marker_says_what_it_holds_and_why() -> None:
    assert set(MARKERS) == {"durable_config", "provider-6.28"}
    for marker in MARKERS.values():
        assert marker.kind in ("block", "argument")
        assert "exists from 6." in marker.reason


def test_version_constraints_are_rewritten() -> None:
    text, rewrite = rewrite_file('      version = ">= 6.28, < 7.0"\n', "versions.tf")
    assert text == '      version = ">= 5.100, < 7.0"\n'
    assert rewrite.constraints_rewritten == 1
    text, _ = rewrite_file('      version = ">= 6.28.1"\n', "versions.tf")
    assert text == '      version = ">= 5.100"\n'


@pytest.mark.parametrize("constraint", [">= 6.25, < 7.0", ">= 6.30", "~> 6.0, >= 6.29"])
def test_a_constraint_with_another_floor_fails(constraint: str) -> None:
    with pytest.raises(OfflineCopyError, match="was not rewritten"):
        rewrite_file(f'      version = "{constraint}"\n', "versions.tf")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (BLOCK.replace("  # offline-check:durable_config:end\n", ""), "without an end"),
        (BLOCK.replace("  # offline-check:durable_config:begin\n", ""), "without a begin"),
        (
            BLOCK.replace("# offline-check:durable_config:begin", "# offline-check:durable_cfg:b"),
            "unknown marker",
        ),
        (
            BLOCK.replace("durable_config:begin", "durable_settings:begin").replace(
                "durable_config:end", "durable_settings:end"
            ),
            "unknown marker offline-check:durable_settings",
        ),
        (
            BLOCK.replace(
                "  # offline-check:durable_config:end\n",
                "  snap_start {\n  }\n  # offline-check:durable_config:end\n",
            ),
            "more than the durable_config block",
        ),
        (
            BLOCK.replace("  durable_config {", "  environment {"),
            "exactly one durable_config block",
        ),
        # The argument marker holds one argument line, never a block or a second line.
        (
            ARGUMENT.replace("  invoked_via_function_url = true\n", "  qualifier = var.alias\n"),
            "exactly one single-line invoked_via_function_url",
        ),
        (
            ARGUMENT.replace(
                "  invoked_via_function_url = true\n",
                "  invoked_via_function_url = true\n  qualifier = var.alias\n",
            ),
            "exactly one single-line invoked_via_function_url",
        ),
        (
            ARGUMENT.replace("= true\n", "= {\n    a = 1\n  }\n"),
            "exactly one single-line invoked_via_function_url",
        ),
        (
            ARGUMENT.replace("= true\n", "= <<EOT\n"),
            "exactly one single-line invoked_via_function_url",
        ),
        (
            ARGUMENT.replace(
                "offline-check:provider-6.28:begin", "offline-check:durable_config:begin"
            ),
            "offline-check:provider-6.28:end closes offline-check:durable_config",
        ),
        (
            ARGUMENT.replace(
                "  invoked_via_function_url = true\n",
                "  # offline-check:provider-6.28:begin\n  invoked_via_function_url = true\n",
            ),
            "nested offline-check:provider-6.28:begin",
        ),
        (ARGUMENT.replace("  # offline-check:provider-6.28:end\n", ""), "without an end"),
    ],
)
def test_misused_markers_fail_loudly(text: str, message: str) -> None:
    with pytest.raises(OfflineCopyError, match=re.escape(message)):
        rewrite_file(text, "main.tf")


@pytest.mark.parametrize(
    ("text", "held"),
    [
        (
            BLOCK.replace("  # offline-check:durable_config:begin\n", "").replace(
                "  # offline-check:durable_config:end\n", ""
            ),
            "durable_config",
        ),
        (
            'resource "x" "y" {\n  dynamic "durable_config" {\n    for_each = [1]\n  }\n}\n',
            "durable_config",
        ),
        (
            ARGUMENT.replace("  # offline-check:provider-6.28:begin\n", "").replace(
                "  # offline-check:provider-6.28:end\n", ""
            ),
            "invoked_via_function_url",
        ),
    ],
)
def test_what_a_marker_holds_outside_its_markers_fails(text: str, held: str) -> None:
    with pytest.raises(
        OfflineCopyError, match=re.escape(f"{held} is not inside the offline-check")
    ):
        rewrite_file(text, "main.tf")


def test_a_marker_the_tree_never_uses_fails(tmp_path: Path) -> None:
    (tmp_path / "terraform").mkdir()
    (tmp_path / "state_machine").mkdir()
    (tmp_path / "terraform" / "main.tf").write_text(BLOCK, encoding="utf-8")
    with pytest.raises(OfflineCopyError, match=re.escape("no region of marker provider-6.28")):
        generate(tmp_path, tmp_path / "out")


def test_the_real_tree_yields_a_clean_copy(tmp_path: Path) -> None:
    rewrites = generate(REPO_ROOT, tmp_path)
    removed = {name: sum(r.regions_removed.get(name, 0) for r in rewrites) for name in MARKERS}
    assert removed == {"durable_config": 1, "provider-6.28": 1}
    # Every versions.tf (eight modules, two environments) asked for >= 6.28.
    assert sum(r.constraints_rewritten for r in rewrites) == len(
        list((REPO_ROOT / "terraform").rglob("versions.tf"))
    )
    for path in (tmp_path / "terraform").rglob("*.tf"):
        text = path.read_text(encoding="utf-8")
        assert "durable_config {" not in text, path
        assert "invoked_via_function_url =" not in text, path
        assert "offline-check" not in text, path
        assert '">= 6.' not in text, path
    assert (tmp_path / "state_machine").is_dir()
    # The workflow contract, whose retry policies the module reads with file().
    contract = "shared_layer/albums/data/workflow_contract.json"
    assert (tmp_path / contract).read_bytes() == (REPO_ROOT / contract).read_bytes()
    # The environments' terraform tests are copied too (tf-check runs them there).
    for env in ("dev", "prod"):
        assert (tmp_path / "terraform" / "environments" / env / "tests").is_dir()
