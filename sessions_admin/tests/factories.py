"""Factories for session file rows, stored session files and API pairs.

`SessionFileFactory` makes a row only (no file): lists, drift and query
counts. `stored_session_file` makes a real library file and stores it through
the service, so the row and the file exist together as in production.
"""

import datetime

import factory
from django.core.files import File
from factory.django import DjangoModelFactory

from sessions_admin import services
from sessions_admin.models import ApiPair, Library, SessionFile

from . import session_files


class SessionFileFactory(DjangoModelFactory):
    class Meta:
        model = SessionFile

    filename = factory.Sequence(lambda n: f"account-{n}.session")
    library = Library.TELETHON
    layout = "telethon-7"
    dc_id = factory.Faker("random_int", min=1, max=5)
    user_id = None
    is_bot = None
    size = factory.Faker("random_int", min=4096, max=65536)
    sha256 = factory.Faker("sha256")
    uploaded_at = factory.Faker("date_time_this_year", tzinfo=datetime.UTC)
    uploaded_by = factory.Faker("user_name")


class ApiPairFactory(DjangoModelFactory):
    class Meta:
        model = ApiPair

    api_id = factory.Sequence(lambda n: 1_000_000 + n)
    api_hash = factory.Faker("hexify", text="^" * 32)
    label = factory.Faker("word")
    is_active = True


def stored_session_file(
    directory, name="acct.session", *, maker=session_files.telethon_session, uploaded_by="alice", **options
) -> SessionFile:
    """Return the row of a real session file made by `maker` in `directory` and stored by the service."""
    path = maker(directory, name, **options)
    with open(path, "rb") as content:
        return services.session_file_store(upload=File(content, name=name), uploaded_by=uploaded_by)
