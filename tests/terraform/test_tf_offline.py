"""The 5.100 copy generator: markers are processed exactly, and every misuse fails loudly."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.tf_offline import OfflineCopyError, generate, rewrite_file, strip_durable_config

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


def test_marked_block_is_removed_and_nothing_else() -> None:
    text, removed = strip_durable_config(BLOCK, "main.tf")
    assert removed == 1
    assert "durable_config" not in text
    assert "offline-check" not in text
    assert 'mode = "Active"' in text
    assert "publish = true" in text


def test_version_constraints_are_rewritten() -> None:
    text, rewrite = rewrite_file('      version = ">= 6.25, < 7.0"\n', "versions.tf")
    assert text == '      version = ">= 5.100, < 7.0"\n'
    assert rewrite.constraints_rewritten == 1


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
    ],
)
def test_misused_markers_fail_loudly(text: str, message: str) -> None:
    with pytest.raises(OfflineCopyError, match=message):
        rewrite_file(text, "main.tf")


def test_unmarked_durable_config_fails() -> None:
    text = BLOCK.replace("  # offline-check:durable_config:begin\n", "").replace(
        "  # offline-check:durable_config:end\n", ""
    )
    with pytest.raises(OfflineCopyError, match="not inside the markers"):
        rewrite_file(text, "main.tf")


def test_the_real_tree_yields_a_clean_copy(tmp_path: Path) -> None:
    rewrites = generate(REPO_ROOT, tmp_path)
    assert sum(r.blocks_removed for r in rewrites) == 1
    assert sum(r.constraints_rewritten for r in rewrites) >= 3
    for path in (tmp_path / "terraform").rglob("*.tf"):
        text = path.read_text(encoding="utf-8")
        assert "durable_config {" not in text, path
        assert "6.25" not in text.replace(
            "# durable_config on aws_lambda_function needs 6.25", ""
        ), path
    assert (tmp_path / "state_machine").is_dir()
