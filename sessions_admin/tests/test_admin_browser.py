"""The session files change list in headless Chromium at 1,280 px: every column fits, nothing scrolls sideways."""

import os

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from cms.tests.test_browser import browser, wait  # noqa: F401 (the fixture)
from tests.security.test_csp_browser import admin_log_in, console_errors

from .factories import SessionFileFactory

pytestmark = pytest.mark.browser

WIDTH = 1280


@pytest.fixture
def long_rows(transactional_db, admin_user):
    # The widest values each column can hold: 100-character names, 64-bit user ids, the longest layout.
    SessionFileFactory(filename="n" * 92 + ".session", layout="pyrogram-3", library="pyrogram", user_id=2**63 - 1)
    SessionFileFactory(
        filename="seller-batch-2026-12-06-" + "x" * 60 + ".session",
        layout="kurigram-7",
        library="pyrogram",
        user_id=5_000_000_042,
        is_bot=True,
        api_id=2_147_483_647,
        size=10 * 1024 * 1024,
        uploaded_by="an-operator-with-a-long-username-" + "u" * 40,
    )
    SessionFileFactory.create_batch(20)


def test_the_session_files_change_list_fits_1280_px(live_server, browser, long_rows, tmp_path):
    browser.set_window_size(WIDTH, 1000)
    admin_log_in(browser, live_server.url)

    browser.get(f"{live_server.url}/admin/sessions_admin/sessionfile/")
    wait(browser, EC.presence_of_element_located((By.ID, "result_list")))
    # Where a reviewer can look at it: set ADMIN_SCREENSHOT to a file path.
    browser.save_screenshot(os.environ.get("ADMIN_SCREENSHOT") or str(tmp_path / "sessions.png"))

    viewport, page, table_right = browser.execute_script(
        "return [document.documentElement.clientWidth, document.documentElement.scrollWidth,"
        " document.getElementById('result_list').getBoundingClientRect().right];"
    )
    assert page <= viewport, (page, viewport)
    assert table_right <= viewport, (table_right, viewport)
    headers = [element.text for element in browser.find_elements(By.CSS_SELECTOR, "#result_list thead th")]
    assert "FILENAME" in [header.upper() for header in headers]
    assert console_errors(browser) == []
