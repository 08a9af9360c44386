"""``make tf-check``: every offline check of terraform/, fastest first, with timings.

1. ``terraform fmt -check -recursive terraform`` (real tree);
2. the hcl2 contract check (``scripts/tf_contract.py``, real tree, run by ``.venv-tf``)
   and the least-privilege check of every IAM policy (``scripts/iam_check.py``);
3. checkov on the real tree with ``--skip-download``: zero failures (every skip is an
   inline ``checkov:skip`` comment with its reason next to the resource);
4. the 5.100 copy (``scripts/tf_offline.py``), then ``terraform validate`` of both
   environments (valid, zero warnings) and their own ``terraform test`` (the environment's
   defaults plan, and each cross-variable rule refuses what it must);
5. each environment rendered as deployed (``scripts/tf_render.py``: ``terraform test``
   against the real provider, nothing created) into ``out/tf-check/ENV/``, and its state
   machine definition checked with statelint and the service's rules
   (``scripts/asl_check.py``); the rendered policies are what ``make test``'s IAM coverage
   check judges;
6. ``terraform test`` (mock_provider) in ``modules/album_registration``.

With ``--if-available`` it prints a skip line and succeeds when terraform or the provider
mirror is missing (``make test`` uses this).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess  # nosec B404  # runs terraform and checkov, never a shell
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts import asl_check
from scripts.tf_offline import OfflineCopyError, generate
from scripts.tf_render import RenderError, render_all

REPO_ROOT = Path(__file__).resolve().parent.parent
OFFLINE = REPO_ROOT / "build" / "tf-offline"
PLUGIN_DIR = Path(os.environ.get("TF_PLUGIN_DIR", "/opt/tf-plugins"))
PROVIDER = PLUGIN_DIR / "registry.terraform.io" / "hashicorp" / "aws"
VENV_TF = REPO_ROOT / ".venv-tf" / "bin"
ENVIRONMENTS = ("dev", "prod")
TEST_ROOT = Path("terraform") / "modules" / "album_registration"
STEP_TIMEOUT_SECONDS = 300


class CheckFailedError(Exception):
    """One step of tf-check failed."""


def available() -> str | None:
    """Why tf-check cannot run here, or None when it can."""
    if shutil.which("terraform") is None:
        return "terraform is not on PATH"
    if not PROVIDER.is_dir() or not any(PROVIDER.iterdir()):
        return f"no hashicorp/aws provider in the mirror {PLUGIN_DIR}"
    if not (VENV_TF / "checkov").exists():
        return ".venv-tf is missing (make creates it from requirements-tf.txt)"
    return None


def run(title: str, command: list[str], cwd: Path = REPO_ROOT) -> str:
    """Run one step; raise CheckFailedError with its output when it fails."""
    started = time.monotonic()
    result = subprocess.run(  # nosec B603  # fixed tool command lines
        command, cwd=cwd, check=False, text=True, capture_output=True, timeout=STEP_TIMEOUT_SECONDS
    )
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        print(result.stdout[-12000:], result.stderr[-6000:], sep="\n")
        raise CheckFailedError(f"{title} (exit {result.returncode})")
    print(f"tf-check: ok   {title} ({elapsed:.1f} s)", flush=True)
    return result.stdout


def validate(env: str) -> None:
    """Init against the mirror (no backend) and validate with zero warnings."""
    root = OFFLINE / "terraform" / "environments" / env
    run(
        f"init environments/{env} (provider mirror)",
        ["terraform", "init", "-backend=false", "-input=false", f"-plugin-dir={PLUGIN_DIR}"],
        cwd=root,
    )
    report = json.loads(
        run(f"validate environments/{env}", ["terraform", "validate", "-json"], root)
    )
    if not report.get("valid") or report.get("warning_count", 0) or report.get("error_count", 0):
        for diagnostic in report.get("diagnostics", []):
            print(f"  {diagnostic.get('severity')}: {diagnostic.get('summary')}")
        raise CheckFailedError(f"validate environments/{env}: not valid or has warnings")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--if-available", action="store_true")
    args = parser.parse_args()
    reason = available()
    if reason is not None:
        if args.if_available:
            print(f"tf-check: SKIPPED: {reason}; run `make tf-check` where it is available")
            return 0
        print(f"tf-check: FAILED: {reason}")
        return 1
    rc_file = REPO_ROOT / "build" / "terraformrc"
    rc_file.parent.mkdir(parents=True, exist_ok=True)
    rc_file.write_text("# tf-check: no user configuration, no network installs\n")
    os.environ["TF_CLI_CONFIG_FILE"] = str(rc_file)
    os.environ["TF_IN_AUTOMATION"] = "1"
    started = time.monotonic()
    try:
        run(
            "terraform fmt -check (real tree)",
            ["terraform", "fmt", "-check", "-recursive", "terraform"],
        )
        print(
            run("contract check (real tree)", [str(VENV_TF / "python"), "scripts/tf_contract.py"])
        )
        print(
            run(
                "IAM least privilege (real tree)",
                [str(VENV_TF / "python"), "scripts/iam_check.py", "--quiet"],
            ).strip()
        )
        run(
            "checkov (real tree, zero failures)",
            [
                str(VENV_TF / "checkov"),
                "--directory",
                "terraform",
                "--framework",
                "terraform",
                "--skip-download",
                "--quiet",
                "--compact",
                "--skip-path",
                "tests/fixtures",
            ],
        )
        generate(REPO_ROOT, OFFLINE)
        print("tf-check: ok   offline copy for provider 5.100 (markers processed)")
        for env in ENVIRONMENTS:
            validate(env)
            root = OFFLINE / "terraform" / "environments" / env
            output = run(
                f"terraform test environments/{env} (its defaults and cross-variable rules)",
                ["terraform", "test", "-no-color", "-filter=tests/defaults.tftest.hcl"],
                root,
            )
            print("tf-check: " + output.strip().splitlines()[-1])
        rendered = render_all(OFFLINE, ENVIRONMENTS)
        for env, state in rendered.items():
            definition = state.parent / "state_machine.asl.json"
            problems = asl_check.check(definition)
            for problem in problems:
                print(f"tf-check: FAIL {definition.relative_to(REPO_ROOT)}: {problem}")
            if problems:
                raise CheckFailedError(f"the state machine definition of environments/{env}")
            print(f"tf-check: ok   statelint and service rules: environments/{env} definition")
        test_root = OFFLINE / TEST_ROOT
        run(
            "init modules/album_registration (provider mirror)",
            ["terraform", "init", "-backend=false", "-input=false", f"-plugin-dir={PLUGIN_DIR}"],
            cwd=test_root,
        )
        output = run(
            "terraform test (mock_provider)", ["terraform", "test", "-no-color"], test_root
        )
        print("tf-check: " + output.strip().splitlines()[-1])
    except (
        CheckFailedError,
        OfflineCopyError,
        RenderError,
        RuntimeError,
        subprocess.TimeoutExpired,
    ) as error:
        print(f"tf-check: FAILED: {error}")
        return 1
    print(f"tf-check: all checks passed in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
