from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from . import revocation


def _forget(sender, instance, **kwargs):
    # Now for this process's reads, and again after commit for everyone's.
    revocation.forget_user(instance.pk)
    transaction.on_commit(lambda: revocation.forget_user(instance.pk))


def connect():
    user_model = get_user_model()
    post_save.connect(_forget, sender=user_model, dispatch_uid="forget-user-state-on-save")
    post_delete.connect(_forget, sender=user_model, dispatch_uid="forget-user-state-on-delete")
