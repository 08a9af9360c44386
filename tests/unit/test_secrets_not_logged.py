"""Secrets are never logged, and come only from the environment and Secrets Manager.

A validation flow runs in local mode — two uploads through both patterns, the page's
API read, one correction and one rejection answered, plus a tampered link, a bad body
and a late answer — while every log record is captured whole (message, arguments, every
``extra`` field, tracebacks: Powertools' structured lines included) together with the
process's stdout and stderr. The captured text must hold none of the Step Functions task
tokens, the durable callback ids, the link-signing key or the signed link tokens. A
canary logged the same way proves the capture sees ``extra`` fields.

The settings half: the signing key is read from Secrets Manager by ARN, never from the
environment, there is no built-in fallback key, and nothing but ``albums.settings`` reads
the environment.
"""

from __future__ import annotations

import ast
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from albums.domain import keys
from albums.domain.errors import ConfigurationError
from albums.observability import SERVICE, get_logger
from albums.settings import Settings
from tests.validation_harness import LDF, SF, ReviewWorld, Upload, review_world
from validation_api.handler import build_api

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
CANARY = "canary-7f3c9a1e-secret-looking-value"


class RecordEverything(logging.Handler):
    """Keeps every record whole: message, arguments, extras and traceback."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        fields = {name: value for name, value in vars(record).items() if name != "exc_info"}
        text = json.dumps(fields, default=repr)
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        self.lines.append(f"{record.getMessage()} {text}")


@pytest.fixture
def captured() -> Iterator[RecordEverything]:
    """Record every log record of our logger (at DEBUG) and of everything that propagates."""
    handler = RecordEverything()
    ours = logging.getLogger(SERVICE)
    previous_level = ours.level
    ours.addHandler(handler)
    ours.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)
    try:
        yield handler
    finally:
        logging.getLogger().removeHandler(handler)
        ours.removeHandler(handler)
        ours.setLevel(previous_level)


def answer_a_correction_and_a_rejection(world: ReviewWorld) -> tuple[list[Upload], list[str]]:
    """The flow under test; returns its uploads and the link tokens it used."""
    corrected, rejected = world.upload(), world.upload()
    links = [world.link(corrected), world.link(rejected)]
    client = world.server.client
    client.review(links[0]).raise_for_status()
    client.correct_years(links[0], {2: 1970}).raise_for_status()
    token = links[1].split("#t=")[1]
    tampered = links[1].replace(token, token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert client.reject(tampered, "forged").status == 403
    assert client.request(links[1], "POST", "/api/review/correct", raw=b"{").status == 400
    client.reject(links[1], "the photo is blurry").raise_for_status()
    assert client.accept(links[0]).status == 409  # answered already: logged as refused
    for upload in (corrected, rejected):
        world.wait_for_end(upload)
    return [corrected, rejected], [link.split("#t=")[1] for link in links]


def test_no_token_callback_id_or_signing_key_reaches_any_log(
    captured: RecordEverything, capfd: pytest.CaptureFixture[str]
) -> None:
    with review_world() as world:
        get_logger().info("capture check", extra={"canaryField": CANARY})
        uploads, link_tokens = answer_a_correction_and_a_rejection(world)
        secrets: dict[str, str] = {}
        for number, upload in enumerate(uploads):
            for pattern, label in ((SF, "task token"), (LDF, "callback id")):
                task_id = keys.task_id_for(pattern, upload.execution_id(pattern))
                secrets[f"{label} {number}"] = (
                    world.stack.repository(pattern).get_task(task_id).resume_token
                )
        assert world.server.keys is not None
        secrets["signing key"] = world.server.keys.signing_key().secret.decode()
        for number, token in enumerate(link_tokens):
            secrets[f"link token {number}"] = token
            secrets[f"link signature {number}"] = token.rsplit(".", 1)[1]
    out, err = capfd.readouterr()
    logged = "\n".join([*captured.lines, out, err])

    assert CANARY in "\n".join(captured.lines)  # extras are captured
    assert "validation answered" in logged  # the flow did log
    assert len(set(secrets.values())) == len(secrets)
    for name, value in secrets.items():
        assert len(value) >= 20, name
        assert value not in logged, f"the {name} was logged"
        assert value[:20] not in logged, f"the start of the {name} was logged"


# --- where settings come from ----------------------------------------------------------------


def test_the_signing_key_comes_from_secrets_manager_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("SIGNING_SECRET_ARN", "SIGNING_KEY", "SIGNING_SECRET", "LINK_SIGNING_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TABLE_NAME", "albums-test")
    # A key put in the environment is never used: without the secret's ARN there is none.
    monkeypatch.setenv("SIGNING_KEY", "k" * 64)
    with pytest.raises(ConfigurationError, match="SIGNING_SECRET_ARN"):
        build_api(Settings.from_env())
    fields = set(Settings.__dataclass_fields__)
    holding_secrets = {f for f in fields if any(w in f for w in ("key", "secret", "token"))}
    assert holding_secrets == {"signing_secret_arn"}  # an ARN names the secret, never holds it


def test_only_the_settings_module_reads_the_environment() -> None:
    readers = []
    for folder in ("shared_layer/albums", "functions", "orchestrator"):
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                reads = (
                    isinstance(node, ast.Attribute)
                    and node.attr in {"environ", "getenv", "environb"}
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "os"
                )
                if reads:
                    readers.append(str(path.relative_to(REPO_ROOT)))
    assert sorted(set(readers)) == ["shared_layer/albums/settings.py"]
