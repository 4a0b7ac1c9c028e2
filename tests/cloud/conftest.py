"""The cloud's app runs on storage of its own: a temporary folder, or a fresh bucket on a moto server."""

from __future__ import annotations

import uuid

import pytest

from veza.app import create_app


def cloud_settings(settings, tmp_path, **changes):
    return settings.model_copy(update={"data_dir": tmp_path, "storage_backend": "local", **changes})


def s3_changes(endpoint: str) -> dict[str, str]:
    return {
        "storage_backend": "s3",
        "s3_bucket": f"veza-cloud-{uuid.uuid4().hex[:12]}",
        "s3_endpoint_url": endpoint,
        "s3_access_key_id": "testing",
        "s3_secret_access_key": "testing",
    }


@pytest.fixture
def app(settings, tmp_path):
    return create_app(cloud_settings(settings, tmp_path))


@pytest.fixture(params=["local", "s3"])
async def any_client(request, aiohttp_client, settings, tmp_path):
    """A client of an app on local storage, then on S3 (moto): for what both backends must do alike."""
    changes = s3_changes(request.getfixturevalue("moto_endpoint")) if request.param == "s3" else {}
    return await aiohttp_client(create_app(cloud_settings(settings, tmp_path, **changes)))
