from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from ...audit import record
from ...field_encryption import DecryptionFailed, decrypt, encrypt, encrypted_fields, is_current, key_ring
from ...models import AuthMethod

BATCH = 500


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret (2FA passwords, proxy credentials) under the first key of "
        "FIELD_ENCRYPTION_KEYS and print how many values and rows were re-encrypted. Rotate a key by "
        "putting a new one first (`generate_secret --env FIELD_ENCRYPTION_KEYS`), running this, then "
        "removing the old key. A value no key decrypts stops the command (nothing of that row changes)."
    )

    def handle(self, *args, **options):
        try:
            key_ring()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        values = 0
        for field in encrypted_fields():
            model = field.model
            stale = model.objects.exclude(**{field.name: ""}).values_list("pk", field.name)
            for pk, stored in stale.iterator(chunk_size=BATCH):
                if is_current(stored):
                    continue
                try:
                    fresh = encrypt(decrypt(stored, purpose=field.purpose), purpose=field.purpose)
                except DecryptionFailed as exc:
                    raise CommandError(f"{model._meta.label} row {pk}: {exc}") from None
                with transaction.atomic():
                    # Compare and set: a value changed meanwhile is already under the new key.
                    values += model.objects.filter(pk=pk, **{field.name: stored}).update(**{field.name: fresh})
        record(
            action="field_encryption.rotate",
            actor="rotate_field_key",
            auth_method=AuthMethod.SHELL,
            detail={"values": values},
        )
        self.stdout.write(f"Re-encrypted {values} value(s) under the first key of FIELD_ENCRYPTION_KEYS.")
