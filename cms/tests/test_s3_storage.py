"""Gallery images on an S3-compatible bucket (django-storages), emulated in-process by moto."""

import boto3
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from moto import mock_aws

from cms.models import GalleryImage

from .conftest import GALLERY_URL, PUBLIC_URL
from .image_files import jpeg_bytes

BUCKET = "adbot-media"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def bucket(settings, monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        monkeypatch.setenv("AWS_STORAGE_BUCKET_NAME", BUCKET)
        from adbot_admin.settings import s3_storage

        settings.STORAGES = {**settings.STORAGES, "default": s3_storage("media")}
        yield client


def keys(client):
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_an_upload_lands_in_the_bucket_and_a_delete_removes_it(admin_api_client, api_client, bucket):
    upload = SimpleUploadedFile("photo.jpg", jpeg_bytes(64, 48, exif_gps=True), content_type="image/jpeg")
    response = admin_api_client.post(GALLERY_URL, {"image": upload, "title": "On S3"}, format="multipart")
    assert response.status_code == 201, response.json()

    image = GalleryImage.objects.get()
    assert keys(bucket) == sorted([f"media/{image.file_name}", f"media/{image.thumbnail_name}"])
    stored = bucket.get_object(Bucket=BUCKET, Key=f"media/{image.file_name}")
    assert stored["ContentType"] == "image/jpeg"
    assert len(stored["Body"].read()) == response.json()["size"]
    assert response.json()["url"].startswith(f"https://{BUCKET}.s3.amazonaws.com/media/gallery/")
    assert api_client.get(PUBLIC_URL).json()[0]["url"] == response.json()["url"]

    assert admin_api_client.delete(f"{GALLERY_URL}/{image.pk}").status_code == 204
    assert keys(bucket) == []
