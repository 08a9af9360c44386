"""Validation page and API: a reviewer's answer resumes both patterns of an upload.

Behind the Lambda function URL (payload format 2.0; see :mod:`validation_api.api` for the
routes, status codes and security headers). Each invocation builds a
:class:`albums.review.ReviewService` over both patterns' repositories and resumers —
``SendTaskSuccess``/``SendTaskFailure`` for Step Functions, and
``SendDurableExecutionCallbackSuccess``/``Failure`` for the durable function — and a link
checker over the signing secret (cached per process, rotation-safe).

Environment: ``TABLE_NAME``, ``BUCKET_NAME`` (photo links) and ``SIGNING_SECRET_ARN``.

Lambda handler string: ``validation_api.handler.handler``
(the zip holds ``validation_api/`` at its root).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from albums.adapters import clients
from albums.adapters.durable_callbacks import LambdaCallbackResumer
from albums.adapters.repository import AlbumRepository
from albums.adapters.signing_keys import shared_key_source
from albums.adapters.task_tokens import TaskTokenResumer
from albums.domain.errors import ConfigurationError
from albums.domain.keys import UPLOAD_PREFIX, UploadRef
from albums.domain.models import WorkflowType
from albums.review import ReviewService
from albums.settings import Settings
from validation_api.api import PHOTO_URL_SECONDS, ReviewApi

SF = WorkflowType.STEP_FUNCTIONS
LDF = WorkflowType.DURABLE_FUNCTIONS


def utc_now() -> datetime:
    """Return the current aware UTC time (the service's clock)."""
    return datetime.now(UTC)


def photo_presigner(s3: Any, *, expires_in: int = PHOTO_URL_SECONDS) -> Any:
    """Return a function giving a short-lived GET URL of an upload's exact object version."""

    def presign(upload: UploadRef) -> str:
        params: dict[str, str] = {"Bucket": upload.bucket, "Key": upload.key}
        if upload.version_id is not None:
            params["VersionId"] = upload.version_id
        return str(s3.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in))

    return presign


def photo_origin(s3: Any, bucket: str | None) -> str | None:
    """Return the origin the photo links point to (for the page's image policy)."""
    if not bucket:
        return None
    # Only the origin is kept; the probe key sits under the prefix the role may read, so
    # even this unused link is one the deployed policy would honour.
    probe = f"{UPLOAD_PREFIX}origin-probe.jpg"
    url = str(s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": probe}))
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def build_api(settings: Settings) -> ReviewApi:
    """Build the API over AWS: both repositories, both resumers, the signing secret.

    Raises
    ------
    ConfigurationError
        When ``SIGNING_SECRET_ARN`` is not set.
    """
    if not settings.signing_secret_arn:
        raise ConfigurationError("SIGNING_SECRET_ARN is not set")
    dynamodb = clients.get("dynamodb")
    service = ReviewService(
        repositories={
            SF: AlbumRepository(dynamodb, settings.table_name, SF),
            LDF: AlbumRepository(dynamodb, settings.table_name, LDF),
        },
        resumers={
            SF: TaskTokenResumer(clients.get("stepfunctions")),
            LDF: LambdaCallbackResumer(clients.get("lambda")),
        },
        clock=utc_now,
    )
    keys = shared_key_source(clients.get("secretsmanager"), settings.signing_secret_arn)
    s3 = clients.get("s3")
    return ReviewApi(
        service,
        keys.lookup,
        presign_photo=photo_presigner(s3),
        photo_origin=photo_origin(s3, settings.bucket_name),
        clock=utc_now,
    )


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:  # noqa: ARG001 - Lambda signature
    """Lambda entry point: answer one function URL request (see the module docstring)."""
    return build_api(Settings.from_env()).handle(event)
