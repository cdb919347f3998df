"""The models and the migrations agree."""

from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_makemigrations_finds_nothing_to_do():
    out = StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=StringIO())
    except SystemExit:  # --check exits 1 when a migration is missing
        pytest.fail(f"makemigrations would write:\n{out.getvalue()}")
    assert "No changes detected" in out.getvalue()
