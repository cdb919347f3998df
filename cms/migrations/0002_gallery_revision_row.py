from django.db import migrations


def create_revision_row(apps, schema_editor):
    GalleryRevision = apps.get_model("cms", "GalleryRevision")
    GalleryRevision.objects.get_or_create(pk=1, defaults={"number": 0})


class Migration(migrations.Migration):
    dependencies = [("cms", "0001_initial")]

    operations = [migrations.RunPython(create_revision_row, migrations.RunPython.noop)]
