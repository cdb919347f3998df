import factory
from django.core.files.uploadedfile import SimpleUploadedFile
from factory.django import DjangoModelFactory

from cms import services
from cms.models import GalleryImage

from . import image_files


def upload(data=None, name="photo.png", content_type="image/png"):
    """Return an uploaded file as Django hands it to a view (a PNG unless `data` is given)."""
    return SimpleUploadedFile(name, image_files.png_bytes() if data is None else data, content_type=content_type)


class GalleryImageFactory(DjangoModelFactory):
    """A stored gallery image, files included: made through the upload service like any other."""

    class Meta:
        model = GalleryImage

    title = factory.Faker("sentence", nb_words=3)
    alt_text = factory.Faker("sentence", nb_words=8)
    published = True
    upload = factory.LazyFunction(upload)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.gallery_image_create(**kwargs)
