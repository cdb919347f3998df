"""The image settings checks: `manage.py check` refuses values with which no upload could be stored."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError


def check():
    out = StringIO()
    call_command("check", stdout=out, stderr=out)
    return out.getvalue()


def test_the_defaults_pass():
    assert "no issues" in check()


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [("IMAGE_MAX_SIDE", 0, "cms.E001"), ("IMAGE_DECODE_SLOTS", 0, "cms.E002"), ("IMAGE_DECODE_WAIT", -1.0, "cms.E003")],
)
def test_an_impossible_image_setting_is_refused_with_a_hint(settings, name, value, error):
    setattr(settings, name, value)

    with pytest.raises(SystemCheckError) as raised:
        check()
    message = str(raised.value)
    assert error in message and name in message and "HINT" in message
