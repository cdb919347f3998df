"""The admin site and the API docs work in headless Chromium under their Content-Security-Policy.

A blocked script, style or image is reported by the browser as a SEVERE
console entry ("Refused to ..."); each page must load without one, and do
what it is for: the admin log-in works, Swagger UI renders every operation.
"""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from adbot_admin.tests.factories import TEST_PASSWORD
from cms.tests.factories import GalleryImageFactory
from cms.tests.test_browser import browser, wait  # noqa: F401 (the fixture)

pytestmark = pytest.mark.browser


def console_errors(driver):
    """Return the SEVERE console entries since the last call (the log is drained by reading it)."""
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        # The browser asks for /favicon.ico by itself; the admin has none (404), which no policy causes.
        if entry["level"] == "SEVERE" and "/favicon.ico " not in entry["message"]
    ]


def admin_log_in(driver, base_url):
    driver.get(f"{base_url}/admin/login/")
    wait(driver, EC.visibility_of_element_located((By.ID, "id_username")))
    assert console_errors(driver) == []
    driver.find_element(By.ID, "id_username").send_keys("alice")
    driver.find_element(By.ID, "id_password").send_keys(TEST_PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait(driver, EC.presence_of_element_located((By.ID, "site-name")))
    assert driver.current_url.rstrip("/").endswith("/admin")


@pytest.fixture
def staff(transactional_db, admin_user):
    return admin_user


def test_admin_pages_work_under_their_policy(live_server, browser, staff):
    admin_log_in(browser, live_server.url)
    assert console_errors(browser) == []
    for path in (
        "/admin/",
        "/admin/adbot_admin/auditevent/",
        "/admin/sessions_admin/apipair/add/",
        "/admin/cms/galleryimage/",
        "/admin/adbot_admin/user/",
    ):
        browser.get(f"{live_server.url}{path}")
        wait(browser, EC.presence_of_element_located((By.ID, "content")))
        # The admin's own scripts ran: the theme toggle is wired up by admin/js/theme.js.
        assert browser.execute_script("return document.documentElement.dataset.theme !== undefined"), path
        assert console_errors(browser) == [], path


def test_the_gallery_admin_with_images_works_under_the_policy(live_server, browser, staff):
    image = GalleryImageFactory()
    admin_log_in(browser, live_server.url)
    for path in ("/admin/cms/galleryimage/", f"/admin/cms/galleryimage/{image.pk}/change/"):
        browser.get(f"{live_server.url}{path}")
        wait(browser, EC.presence_of_element_located((By.CSS_SELECTOR, "img")))
        assert console_errors(browser) == [], path


def test_swagger_ui_renders_under_its_policy(live_server, browser):
    browser.get(f"{live_server.url}/api/docs")
    title = wait(browser, EC.visibility_of_element_located((By.CSS_SELECTOR, ".swagger-ui .info .title")))
    assert "adbot-admin API" in title.text
    wait(browser, lambda driver: len(driver.find_elements(By.CSS_SELECTOR, ".opblock")) >= 10)
    # It fetched the schema itself: an operation of ours is listed.
    paths = {element.text for element in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
    assert "/api/auth/token" in paths
    assert console_errors(browser) == []
