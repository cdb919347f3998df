from django.db import migrations, models
from django.db.models import F


def originals_from_stored(apps, schema_editor):
    # Images stored before this migration were kept at their uploaded size.
    GalleryImage = apps.get_model("cms", "GalleryImage")
    GalleryImage.objects.update(original_width=F("width"), original_height=F("height"))


class Migration(migrations.Migration):

    dependencies = [
        ("cms", "0003_list_order_indexes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="galleryimage",
            name="width",
            field=models.PositiveIntegerField(editable=False, help_text="Stored width in pixels, at most IMAGE_MAX_SIDE."),
        ),
        migrations.AlterField(
            model_name="galleryimage",
            name="height",
            field=models.PositiveIntegerField(editable=False, help_text="Stored height in pixels, at most IMAGE_MAX_SIDE."),
        ),
        migrations.AddField(
            model_name="galleryimage",
            name="original_width",
            field=models.PositiveIntegerField(default=0, editable=False, help_text="Width of the upload, upright."),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="galleryimage",
            name="original_height",
            field=models.PositiveIntegerField(default=0, editable=False, help_text="Height of the upload, upright."),
            preserve_default=False,
        ),
        migrations.RunPython(originals_from_stored, migrations.RunPython.noop),
    ]
