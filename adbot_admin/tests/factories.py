import functools

import factory
from django.contrib.auth.hashers import make_password
from factory.django import DjangoModelFactory

from adbot_admin.models import User

TEST_PASSWORD = "correct horse battery staple"


@functools.cache
def _hashed(password):
    # bcrypt at cost 12 takes a quarter second; hash each test password once.
    return make_password(password)


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Faker("user_name")
    email = factory.Faker("email")
    is_active = True

    @factory.post_generation
    def password(obj, create, extracted, **kwargs):
        obj.password = _hashed(extracted or TEST_PASSWORD)
        if create:
            obj.save(update_fields=["password"])
