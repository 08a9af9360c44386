"""The JSON that passes between the workflow's steps: one JSON Schema per shape.

Both orchestrations hand the same data from step to step. The state machine carries it in
JSONata variables, Lambda payloads and state outputs; the durable function in its steps'
checkpointed results and its handler's result. This module is that data's one
definition, as JSON Schemas (draft 2020-12, each self-contained: no ``$ref`` to resolve),
so either pattern's runs can be checked against it
(``tests/unit/test_step_data.py``, and the pattern tests through ``tests/step_data_support.py``).

Each shape is a module constant, a plain dict, documented by the docstring under it; the
same dicts are listed in :data:`SHAPES` by name. Nothing here validates at run time (the
layer has no JSON Schema library; the code's own checks stay where they are): the schemas
say what the code writes, and the tests hold the code to them.

The step names, retry policies and state-machine-only states are in
:mod:`albums.workflow_contract`; this is the other half of the contract.

Patterns are written for ECMA-262 and Python's ``re`` (which ``jsonschema`` uses) alike.
Every anchored pattern is paired with a refusal of line breaks, because Python's ``$``
also matches before a final newline.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from albums.domain.errors import InvalidS3KeyError, InvalidUploadEventError
from albums.domain.keys import IMAGE_SUFFIXES, MAX_KEY_BYTES, MAX_SEGMENT_LENGTH, UPLOAD_PREFIX
from albums.domain.models import (
    ALBUMS_PER_IMAGE,
    MAX_TEXT_LENGTH,
    MIN_YEAR,
    ExecutionStatus,
    WorkflowType,
)
from albums.workflow import AcceptStatus

#: The JSON Schema dialect of every shape.
DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
#: Each shape's ``$id`` is this followed by its name (a key of :data:`SHAPES`).
ID_PREFIX: Final = "urn:album-registration:step-data:"
#: Longest error message a price result carries (both patterns cut it here).
MAX_ERROR_MESSAGE: Final = 1000
#: The characters ``str.strip()`` removes (``str.isspace``), spelled out: ``\s`` differs
#: between regex engines (ECMA-262's includes U+FEFF, Python's does not).
SPACE_CLASS: Final = (
    "[\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
)

Schema = dict[str, Any]

# --- building blocks -----------------------------------------------------------------------


def _string(pattern: str, **bounds: int) -> Schema:
    """Return a string schema: the anchored ``pattern`` matches it whole, no line break."""
    return {"type": "string", **bounds, "pattern": pattern, "not": {"pattern": "[\\n\\r]"}}


def _text() -> Schema:
    """Return album and artist names as ``clean_text`` leaves them: trimmed, printable."""
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_TEXT_LENGTH,
        "not": {
            "anyOf": [
                # Unicode's control characters (category Cc), as models._CONTROL_CHARS.
                {"pattern": "[\\x00-\\x1f\\x7f-\\x9f]"},
                {"pattern": f"^{SPACE_CLASS}"},
                {"pattern": f"{SPACE_CLASS}$"},
            ]
        },
    }


def _index() -> Schema:
    return {"type": "integer", "minimum": 1, "maximum": ALBUMS_PER_IMAGE}


def _year() -> Schema:
    # The newest year is the current one; checked by the code, which knows the date.
    return {"type": "integer", "minimum": MIN_YEAR}


def _execution_id() -> Schema:
    tenants = "|".join(workflow_type.tenant for workflow_type in WorkflowType)
    return _string(f"^(?:{tenants})-[A-Za-z0-9_-]+$", maxLength=128)


def _execution_arn() -> Schema:
    """Return a Step Functions execution ARN (``$states.context.Execution.Id``)."""
    return _string(
        "^arn:aws[a-z-]*:states:[a-z0-9-]+:[0-9]{12}:execution:[A-Za-z0-9_-]{1,80}:[^:\\s]{1,80}$"
    )


def _upload_id() -> Schema:
    return _string("^[0-9a-f]{32}$")


def _suffixes() -> str:
    """Return the image suffixes, any case (``.jpg``, ``.JPG``, ``.JpG``), as alternatives."""
    return "|".join(
        "".join(f"[{ch.lower()}{ch.upper()}]" for ch in suffix.lstrip("."))
        for suffix in IMAGE_SUFFIXES
    )


def _key() -> Schema:
    """Return an upload key that passes ``keys.validate_s3_key``, rule by rule."""
    return {
        "type": "string",
        # Only ASCII is allowed (below), so characters are bytes.
        "maxLength": MAX_KEY_BYTES,
        "pattern": f"^{UPLOAD_PREFIX}",
        "allOf": [
            # The file name has a stem and an image suffix.
            {"pattern": f"/[^/]+\\.(?:{_suffixes()})$"},
        ],
        "not": {
            "anyOf": [
                {"pattern": "[^A-Za-z0-9._~/-]"},
                {"pattern": "//"},
                {"pattern": "/\\.\\.?(?:/|$)"},
                {"pattern": f"[^/]{{{MAX_SEGMENT_LENGTH + 1}}}"},
            ]
        },
    }


def _object(properties: Mapping[str, Schema], *, optional: tuple[str, ...] = ()) -> Schema:
    """Return an object of exactly ``properties``, each required but the ``optional``."""
    return {
        "type": "object",
        "properties": dict(properties),
        "required": [name for name in properties if name not in optional],
        "additionalProperties": False,
    }


def _album_properties() -> dict[str, Schema]:
    return {"albumIndex": _index(), "albumName": _text(), "artist": _text(), "year": _year()}


def _album() -> Schema:
    return _object(_album_properties())


def _validated_album() -> Schema:
    return _object(
        {**_album_properties(), "yearOriginal": _year(), "yearValidated": {"type": "boolean"}}
    )


def _six(item: Schema) -> Schema:
    """Return an array of exactly one ``item`` per album, in index order 1..6."""
    return {
        "type": "array",
        "prefixItems": [
            {"allOf": [item, {"properties": {"albumIndex": {"const": index}}}]}
            for index in range(1, ALBUMS_PER_IMAGE + 1)
        ],
        "minItems": ALBUMS_PER_IMAGE,
        "items": False,
    }


def _upload() -> Schema:
    upload = _object(
        {
            "bucket": _string("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"),
            "key": _key(),
            "uploadId": _upload_id(),
            "versionId": _string("^[A-Za-z0-9._+/=-]{1,1024}$"),
            "etag": _string("^[A-Za-z0-9-]{1,64}$"),
            "size": {"type": "integer", "minimum": 0},
        },
        optional=("versionId", "etag", "size"),
    )
    upload["anyOf"] = [{"required": ["versionId"]}, {"required": ["etag"]}]
    return upload


def _correction() -> Schema:
    return _object(
        {"albumIndex": _index(), "year": _year(), "albumName": _text(), "artist": _text()},
        optional=("albumName", "artist"),
    )


def _decision() -> Schema:
    return _object(
        {
            "corrections": {
                "type": "array",
                "items": _correction(),
                "maxItems": ALBUMS_PER_IMAGE,
                # No album is corrected twice.
                "allOf": [
                    {
                        "contains": {"properties": {"albumIndex": {"const": index}}},
                        "minContains": 0,
                        "maxContains": 1,
                    }
                    for index in range(1, ALBUMS_PER_IMAGE + 1)
                ],
            },
            "answerStored": {"type": "boolean"},
        },
        optional=("answerStored",),
    )


def _price_estimate() -> Schema:
    return _object(
        {
            "priceEstimate": {"type": "number", "minimum": 0},
            "priceConfidence": {"type": "number", "minimum": 0, "maximum": 1},
            "priceSource": _text(),
            "currency": _string("^[A-Z]{3}$"),
        }
    )


def _priced() -> Schema:
    return _object({"albumIndex": _index(), "estimate": _price_estimate()})


def _price_failed() -> Schema:
    return _object(
        {
            "albumIndex": _index(),
            "error": {"type": "string", "minLength": 1},
            # May be empty in the state machine (a final error without a cause).
            "errorMessage": {"type": "string", "maxLength": MAX_ERROR_MESSAGE},
        }
    )


def _cases(field: str, cases: list[tuple[Schema, Schema]]) -> Schema:
    """Return an object whose ``field`` tells which of the ``cases`` it must be.

    Each case is (condition, shape): ``if``/``then`` rather than ``oneOf``, so an instance
    is judged by its own case alone and its errors name the field that is wrong.
    """
    return {
        "type": "object",
        "required": [field],
        "allOf": [
            {
                "if": {**condition, "required": [field, *condition.get("required", [])]},
                "then": shape,
            }
            for condition, shape in cases
        ],
    }


def _price_result() -> Schema:
    # The estimate is there, or the error is.
    return {
        "type": "object",
        "if": {"required": ["estimate"]},
        "then": _priced(),
        "else": _price_failed(),
    }


def _reason() -> Schema:
    """Return why the accept rules refused an event: ``"<error class>: <its message>"``."""
    names = "|".join(error.__name__ for error in (InvalidS3KeyError, InvalidUploadEventError))
    return {"type": "string", "pattern": f"^(?:{names}): "}


def _has_status(*statuses: str) -> Schema:
    return {"properties": {"status": _status(*statuses)}}


def _status(*statuses: str) -> Schema:
    if len(statuses) == 1:
        return {"const": str(statuses[0])}
    return {"enum": [str(status) for status in statuses]}


def _same_tenant(*fields: str) -> list[Schema]:
    """Return conditions: the ``fields`` are execution ids of the outcome's own pattern."""
    return [
        {
            "if": {
                "properties": {"workflowType": {"const": str(workflow_type)}},
                "required": ["workflowType"],
            },
            "then": {
                "properties": {
                    field: {"type": ["string", "null"], "pattern": f"^{workflow_type.tenant}-"}
                    for field in fields
                }
            },
        }
        for workflow_type in WorkflowType
    ]


def _all_items(field: str, condition: Schema) -> Schema:
    return {"properties": {field: {"items": condition}}}


def _identity() -> dict[str, Schema]:
    return {
        "executionId": _execution_id(),
        "workflowType": {"enum": [str(workflow_type) for workflow_type in WorkflowType]},
    }


def _outcome() -> Schema:
    completed = _object(
        {
            **_identity(),
            "status": _status(ExecutionStatus.COMPLETED, ExecutionStatus.COMPLETED_WITH_ERRORS),
            "albums": _six(_validated_album()),
            "prices": _six(_price_result()),
            "validationTimedOut": {"type": "boolean"},
        }
    )
    completed["allOf"] = [
        {
            "if": {
                "properties": {"status": {"const": str(ExecutionStatus.COMPLETED)}},
                "required": ["status"],
            },
            "then": _all_items("prices", {"required": ["estimate"]}),
            "else": {"properties": {"prices": {"contains": {"required": ["error"]}}}},
        },
        {
            # A timeout keeps the detected data unvouched for; an answer vouches for all six.
            "if": {
                "properties": {"validationTimedOut": {"const": True}},
                "required": ["validationTimedOut"],
            },
            "then": _all_items("albums", {"properties": {"yearValidated": {"const": False}}}),
            "else": _all_items("albums", {"properties": {"yearValidated": {"const": True}}}),
        },
    ]
    upload_rejected = _object(
        {
            **_identity(),
            "status": _status(ExecutionStatus.REJECTED),
            "reason": _reason(),
            "duplicateOf": _null(),
        }
    )
    duplicate = _object(
        {
            **_identity(),
            "status": _status(ExecutionStatus.DUPLICATE),
            "reason": _null(),
            "duplicateOf": _execution_id(),
        }
    )
    reviewer_rejected = _object(
        {**_identity(), "status": _status(ExecutionStatus.REJECTED), "albums": _six(_album())}
    )
    statuses = (
        ExecutionStatus.COMPLETED,
        ExecutionStatus.COMPLETED_WITH_ERRORS,
        ExecutionStatus.REJECTED,
        ExecutionStatus.DUPLICATE,
    )
    outcome = _cases(
        "status",
        [
            (_has_status(*statuses[:2]), completed),
            (_has_status(ExecutionStatus.DUPLICATE), duplicate),
            # A reviewer's rejection returns the albums, the accept rules' a reason.
            ({**_has_status(ExecutionStatus.REJECTED), "required": ["albums"]}, reviewer_rejected),
            (
                {**_has_status(ExecutionStatus.REJECTED), "not": {"required": ["albums"]}},
                upload_rejected,
            ),
        ],
    )
    outcome["properties"] = {"status": _status(*statuses)}
    outcome["allOf"].extend(_same_tenant("executionId", "duplicateOf"))
    return outcome


def _null() -> Schema:
    return {"type": "null"}


def _accept_outcome() -> Schema:
    accepted = _object(
        {
            "status": _status(AcceptStatus.ACCEPTED),
            "executionId": _execution_id(),
            "upload": _upload(),
            "reason": _null(),
            "duplicateOf": _null(),
        }
    )
    duplicate = _object(
        {
            "status": _status(AcceptStatus.DUPLICATE),
            "executionId": _execution_id(),
            "upload": _upload(),
            "reason": _null(),
            "duplicateOf": _execution_id(),
        }
    )
    rejected = _object(
        {
            "status": _status(AcceptStatus.REJECTED),
            "executionId": _execution_id(),
            "upload": _null(),
            "reason": _reason(),
            "duplicateOf": _null(),
        }
    )
    outcome = _cases(
        "status",
        [
            (_has_status(AcceptStatus.ACCEPTED), accepted),
            (_has_status(AcceptStatus.DUPLICATE), duplicate),
            (_has_status(AcceptStatus.REJECTED), rejected),
        ],
    )
    outcome["properties"] = {"status": _status(*AcceptStatus)}
    return outcome


def _shape(name: str, title: str, schema: Schema) -> Schema:
    """Return the finished shape: plain JSON throughout, no part shared with another."""
    shape = {"$schema": DIALECT, "$id": f"{ID_PREFIX}{name}", "title": title, **schema}
    copied: Schema = json.loads(json.dumps(shape))
    return copied


# --- the shapes ----------------------------------------------------------------------------

UPLOAD: Final[Schema] = _shape("upload", "An uploaded object version", _upload())
"""``UploadRef.to_dict()``: ``{bucket, key, uploadId, versionId?, etag?, size?}``.

At least one of ``versionId`` and ``etag`` (the etag without its quotes); an absent field
is left out, never null. The key follows every rule of ``keys.validate_s3_key``. The
state machine's ``$upload`` (assigned by ``CheckUpload``), the durable accept outcome's
``upload``, the image processor's payload.
"""

ALBUMS: Final[Schema] = _shape("albums", "The six detected albums", _six(_album()))
"""``ProcessImage``'s result: six ``Album.to_dict()``, ``albumIndex`` 1..6 in order.

Each ``{albumIndex, albumName, artist, year}``; names trimmed, printable, at most 200
characters; a year from 1900 (to the current year, which the code checks). The state
machine's ``$albums``, the durable ``ProcessImage`` result, the notifier's ``albums`` and
the outcome of a reviewer's rejection.
"""

VALIDATED_ALBUMS: Final[Schema] = _shape(
    "validated-albums", "The six albums after review", _six(_validated_album())
)
"""``ApplyValidation``'s result: each album with ``yearOriginal`` and ``yearValidated``.

``year`` (and the names) as the reviewer left them, ``yearOriginal`` the year the model
read, ``yearValidated`` true for all six after an answer, false for all six after a
timeout (``year`` then equals ``yearOriginal``). The state machine's ``$validated``, the
durable ``ApplyValidation`` result, the completed outcome's ``albums``.
"""

DECISION: Final[Schema] = _shape("decision", "A reviewer's answer", _decision())
"""The resume payload, ``ValidationDecision.to_dict()``: ``{corrections, answerStored?}``.

Each correction ``{albumIndex, year, albumName?, artist?}`` (a name only when corrected),
no album twice. ``answerStored`` is written (true) when the validation API stored the
answer on the task before resuming. The state machine's ``SendTaskSuccess`` output
(``$decision``), the durable callback's result.
"""

PRICE_ESTIMATE: Final[Schema] = _shape(
    "price-estimate", "One album's estimated price", _price_estimate()
)
"""``PriceEstimate.to_dict()``: ``{priceEstimate, priceConfidence, priceSource, currency}``.

Numbers are JSON numbers (floats, never Decimal), ``priceConfidence`` within 0..1,
``currency`` an ISO-4217 code. The durable ``EstimatePrice-<n>`` result, the ``estimate``
of a price result.
"""

PRICE_RESULT: Final[Schema] = _shape("price-result", "One album's price outcome", _price_result())
"""One album's outcome: ``{albumIndex, estimate}`` or ``{albumIndex, error, errorMessage}``.

``error`` is the final error's name, ``errorMessage`` its message cut at 1,000
characters. The state machine's ``EstimatePrice`` output (the Lambda's result, or its
Catch's), the durable map branch's result.
"""

PRICE_RESULTS: Final[Schema] = _shape(
    "price-results", "The six albums' price outcomes", _six(_price_result())
)
"""The prices step's result: one price result per album, ``albumIndex`` 1..6 in order.

The state machine's ``$prices`` (the Map's result), the durable map's results, the
completed outcome's ``prices``.
"""

COMPLETION_STATUS: Final[Schema] = _shape(
    "completion-status",
    "How a completed execution ended",
    _status(ExecutionStatus.COMPLETED, ExecutionStatus.COMPLETED_WITH_ERRORS),
)
"""``StoreResults``' result: ``"completed"`` (six prices) or ``"completed_with_errors"``."""

ACCEPT_OUTCOME: Final[Schema] = _shape(
    "accept-outcome", "What the accept step decided", _accept_outcome()
)
"""``AcceptOutcome.to_dict()``, the durable ``AcceptUpload`` result.

Always the five keys ``{status, executionId, upload, reason, duplicateOf}``: ``accepted``
with the upload; ``duplicate`` with the upload and the claim's holder; ``rejected`` with
the reason and a null upload. The state machine has no such object: ``CheckUpload``
assigns ``$upload`` (or outputs ``{status, reason}`` to ``UploadRejected``), and the claim
states assign ``$claimHolder``.
"""

OUTCOME: Final[Schema] = _shape("outcome", "What an execution returns", _outcome())
"""What each execution returns (the state machine's output, the durable handler's result).

``{executionId, workflowType, status, ...}``, the id of the pattern's own tenant, then by
path:

- completed (``completed`` or ``completed_with_errors``): ``albums`` (validated),
  ``prices`` (all six priced exactly when ``completed``) and ``validationTimedOut``;
- the accept rules refused the event: ``status`` ``rejected``, ``reason``, a null
  ``duplicateOf``;
- a duplicate delivery: ``status`` ``duplicate``, a null ``reason``, ``duplicateOf``;
- the reviewer rejected: ``status`` ``rejected`` and the detected ``albums``.

A failed execution returns nothing: it fails with its error.
"""

IMAGE_PROCESSOR_PAYLOAD: Final[Schema] = _shape(
    "image-processor-payload",
    "The image processor Lambda's payload",
    _object({"executionArn": _execution_arn(), "upload": _upload()}),
)
"""``ProcessImage``'s Lambda payload: ``{executionArn, upload}``."""

IMAGE_PROCESSOR_RESULT: Final[Schema] = _shape(
    "image-processor-result",
    "The image processor Lambda's result",
    _object({"albums": _six(_album()), "modelId": {"type": "string", "minLength": 1}}),
)
"""The image processor's result: ``{albums, modelId}`` (the state machine keeps ``albums``)."""

VALIDATION_NOTIFIER_PAYLOAD: Final[Schema] = _shape(
    "validation-notifier-payload",
    "The validation notifier Lambda's payload",
    _object(
        {
            "taskToken": {"type": "string", "minLength": 1},
            "executionArn": _execution_arn(),
            "uploadId": _upload_id(),
            "albums": _six(_album()),
            "timeoutSeconds": {"type": "integer", "minimum": 1},
        }
    ),
)
"""``WaitForValidation``'s Lambda payload.

``{taskToken, executionArn, uploadId, albums, timeoutSeconds}``: the task token the answer
resumes, the detected albums and the review's ``TimeoutSeconds``.
"""

VALIDATION_NOTIFIER_RESULT: Final[Schema] = _shape(
    "validation-notifier-result",
    "The validation notifier Lambda's result",
    _object(
        {
            "taskId": _string("^(?:sf|ldf)-[0-9a-f]{24}$"),
            # format_timestamp: ISO-8601 UTC with milliseconds.
            "expiresAt": _string(
                "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[.][0-9]{3}Z$"
            ),
        }
    ),
)
"""The notifier's own result, ``{taskId, expiresAt}``: ignored by the state machine.

A ``.waitForTaskToken`` task's output is the answer (:data:`DECISION`), not this.
"""

PRICE_ESTIMATOR_PAYLOAD: Final[Schema] = _shape(
    "price-estimator-payload",
    "The price estimator Lambda's payload",
    _object({"executionArn": _execution_arn(), "album": _validated_album()}),
)
"""One Map item's payload: ``{executionArn, album}``, the album a validated one."""

PRICE_ESTIMATOR_RESULT: Final[Schema] = _shape(
    "price-estimator-result", "The price estimator Lambda's result", _priced()
)
"""The price estimator's result: ``{albumIndex, estimate}`` (a priced :data:`PRICE_RESULT`)."""

#: Every shape by name (the end of its ``$id``).
SHAPES: Final[Mapping[str, Schema]] = MappingProxyType(
    {
        str(schema["$id"]).removeprefix(ID_PREFIX): schema
        for schema in (
            UPLOAD,
            ALBUMS,
            VALIDATED_ALBUMS,
            DECISION,
            PRICE_ESTIMATE,
            PRICE_RESULT,
            PRICE_RESULTS,
            COMPLETION_STATUS,
            ACCEPT_OUTCOME,
            OUTCOME,
            IMAGE_PROCESSOR_PAYLOAD,
            IMAGE_PROCESSOR_RESULT,
            VALIDATION_NOTIFIER_PAYLOAD,
            VALIDATION_NOTIFIER_RESULT,
            PRICE_ESTIMATOR_PAYLOAD,
            PRICE_ESTIMATOR_RESULT,
        )
    }
)
