"""The CMS page driven in headless Chromium (Debian's `chromium` and `chromium-driver`).

Selenium is pointed at /usr/bin/chromedriver and /usr/bin/chromium, so
selenium-manager is never asked to find or download anything.
"""

import math
import shutil
import tempfile
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import bcrypt
import pytest
from django.test import RequestFactory
from django.utils import timezone
from django_ratelimit.core import get_usage
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from adbot_admin import slots
from adbot_admin.budgets import UPLOAD
from adbot_admin.models import AuditEvent, LoginSession, Outcome
from cms import services
from cms.models import GalleryImage

from . import image_files
from .conftest import media_files

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PASSWORD = "gallery password for the browser test"
WAIT = 15


@pytest.fixture
def browser():
    for path in (CHROMIUM, CHROMEDRIVER):
        assert Path(path).exists(), f"{path} is missing: apt-get install chromium chromium-driver"
    profile = tempfile.mkdtemp(prefix="cms-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-extensions",
        "--window-size=1280,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def cms_password(settings):
    settings.ADMIN_PASSWORD_HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    settings.RATELIMIT_LOGIN = "100/m"
    return PASSWORD


@pytest.fixture
def token_lifetime(monkeypatch):
    """Return a function that sets the lifetime of access tokens minted from now on."""

    def set_lifetime(seconds):
        # AccessToken reads the setting once, at import: change both.
        monkeypatch.setattr(api_settings, "ACCESS_TOKEN_LIFETIME", timedelta(seconds=seconds))
        monkeypatch.setattr(AccessToken, "lifetime", timedelta(seconds=seconds))

    return set_lifetime


def wait(driver, condition, timeout=WAIT):
    return WebDriverWait(driver, timeout).until(condition)


def text_of(driver, element_id):
    return driver.find_element(By.ID, element_id).text


def visible(driver, element_id):
    return driver.find_element(By.ID, element_id).is_displayed()


def log_in(driver, password):
    field = driver.find_element(By.ID, "password")
    # The page shows its login form once it has found no session to resume: on a busy machine, not at once.
    wait(driver, lambda _: field.is_displayed() and field.is_enabled())
    field.clear()
    field.send_keys(password)
    driver.find_element(By.ID, "login-button").click()


def readable_storage(driver):
    """Return everything a script on the page can read: sessionStorage, localStorage and document.cookie."""
    return driver.execute_script(
        "var all = {cookie: document.cookie};"
        "[['session', window.sessionStorage], ['local', window.localStorage]].forEach(function (pair) {"
        "  for (var i = 0; i < pair[1].length; i++) { var k = pair[1].key(i); all[pair[0] + ':' + k] = pair[1].getItem(k); }"
        "});"
        "return all;"
    )


def assert_no_readable_token(driver):
    """No JWT (they all begin `eyJ`) and no refresh cookie where a script could read it."""
    storage = readable_storage(driver)
    assert set(storage) == {"cookie"}, storage  # both storages are empty
    assert "eyJ" not in storage["cookie"] and "adbot_refresh" not in storage["cookie"], storage
    assert driver.execute_script("return window.sessionStorage.length + window.localStorage.length;") == 0


def browser_cookie(driver, name):
    """Return the browser's cookie `name` whatever its path (WebDriver shows only the current page's), or None."""
    cookies = driver.execute_cdp_cmd("Network.getAllCookies", {})["cookies"]
    return next((cookie for cookie in cookies if cookie["name"] == name), None)


def session_state(driver, state):
    """Wait until the page has settled in `state` (in, out) after loading or acting."""
    wait(driver, lambda d: d.execute_script("return document.body.dataset.session;") == state)


def upload(driver, path, title=""):
    driver.find_element(By.ID, "upload-file").send_keys(str(path))
    title_field = driver.find_element(By.ID, "upload-title")
    title_field.clear()
    title_field.send_keys(title)
    driver.find_element(By.ID, "upload-button").click()


def rate_limited_client(ip):
    """Return a request from `ip`, for reading the rate limiter's counters as the server does."""
    return RequestFactory().get("/", REMOTE_ADDR=ip)


def rate_with_minutes_left(client, uploads):
    """Return a rate of `uploads` per hour or so whose window, for `client`, has minutes left.

    django-ratelimit ends each window at an offset hashed from the client's key and the
    period: under "3/h" alone the wait would read in seconds one run in sixty. Each
    period of 60 to 119 minutes has its own offset, so one of them leaves minutes.
    """
    for minutes in range(60, 120):
        rate = f"{uploads}/{minutes}m"
        if get_usage(client, group=UPLOAD.name, key=UPLOAD.key, rate=rate)["time_left"] >= 60:
            return rate
    raise AssertionError("every period of 60 to 119 minutes ends within a minute")


def test_cms_page_flow(live_server, browser, cms_password, token_lifetime, tmp_path, settings):
    token_lifetime(3600)
    photo = tmp_path / "harbour.png"
    photo.write_bytes(image_files.png_bytes(640, 480))
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_bytes(image_files.text_bytes())

    browser.get(f"{live_server.url}/cms/")
    assert browser.title == "Gallery CMS"
    session_state(browser, "out")
    assert visible(browser, "login-view") and not visible(browser, "gallery-view")

    # A wrong password is refused, in words.
    log_in(browser, "not the password")
    wait(browser, EC.text_to_be_present_in_element((By.ID, "login-reason"), "Wrong password"))
    assert_no_readable_token(browser)

    # The right one opens the gallery; the access token lives in a script variable, the
    # refresh token in an httpOnly cookie: nothing a script could read holds either.
    log_in(browser, cms_password)
    wait(browser, EC.visibility_of_element_located((By.ID, "gallery-view")))
    wait(browser, EC.text_to_be_present_in_element((By.ID, "message"), "Logged in"))
    assert_no_readable_token(browser)
    refresh_cookie = browser_cookie(browser, "__Host-adbot_refresh")
    assert refresh_cookie["value"].startswith("eyJ") and refresh_cookie["httpOnly"] is True
    assert refresh_cookie["sameSite"] == "Strict"
    assert refresh_cookie["path"] == "/" and refresh_cookie["secure"] is True
    assert not visible(browser, "expiry-warning")
    assert browser.find_element(By.ID, "gallery-empty").is_displayed()
    # The rate is part of django-ratelimit's counter key: set it before the first upload.
    client = rate_limited_client(LoginSession.objects.get().ip)
    settings.RATELIMIT_UPLOAD = rate_with_minutes_left(client, uploads=3)
    # The counters' clock stands still in tests (conftest): Retry-After is this plus one second.
    time_left = get_usage(client, group=UPLOAD.name, key=UPLOAD.key, rate=settings.RATELIMIT_UPLOAD)["time_left"]

    # A reload keeps the login: the page trades the cookie for a new access token.
    browser.refresh()
    session_state(browser, "in")
    assert visible(browser, "gallery-view") and not visible(browser, "login-view")
    assert_no_readable_token(browser)

    # Upload: progress reported, the thumbnail shows once the server has it.
    upload(browser, photo, title="Harbour")
    wait(browser, EC.text_to_be_present_in_element((By.ID, "message"), "Uploaded “Harbour”"))
    image = GalleryImage.objects.get()
    thumb = wait(browser, EC.visibility_of_element_located((By.CSS_SELECTOR, f'li[data-id="{image.pk}"] img.thumb')))
    wait(browser, lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth;", thumb))
    assert thumb.get_attribute("src").endswith(image.thumbnail_name)
    assert browser.find_element(By.ID, "upload-progress").get_attribute("value") == "100"

    # A refused upload is explained with the server's words.
    upload(browser, not_an_image)
    wait(browser, EC.text_to_be_present_in_element((By.ID, "message"), "file is not a JPEG, PNG, WebP or GIF image"))
    assert "notes.png refused" in text_of(browser, "message")
    # So is a file the server finds too large (its limit shrank after the page loaded).
    settings.IMAGE_MAX_BYTES = 1024
    upload(browser, photo)
    wait(browser, EC.text_to_be_present_in_element((By.ID, "message"), "too large"))
    settings.IMAGE_MAX_BYTES = 10 * 1024 * 1024
    # And a refusal by the rate limit, with the wait from Retry-After: this is the 4th upload.
    upload(browser, photo)
    wait(browser, EC.text_to_be_present_in_element((By.ID, "message"), "too many requests. Try again in"))
    assert text_of(browser, "message").endswith(f"Try again in {math.ceil((time_left + 1) / 60)} minutes.")
    assert GalleryImage.objects.count() == 1

    # Edit the title.
    title_field = browser.find_element(By.ID, f"title-{image.pk}")
    title_field.clear()
    title_field.send_keys("Harbour at dusk")
    browser.find_element(By.CSS_SELECTOR, f'li[data-id="{image.pk}"] .save-button').click()
    wait(browser, EC.text_to_be_present_in_element((By.ID, "message"), "Saved “Harbour at dusk”"))
    image.refresh_from_db()
    assert image.title == "Harbour at dusk"

    # Unpublish, by keyboard: focus the button and press Enter.
    publish = browser.find_element(By.CSS_SELECTOR, f'li[data-id="{image.pk}"] .publish-button')
    assert publish.text == "Unpublish"
    publish.send_keys("\n")
    wait(browser, EC.text_to_be_present_in_element((By.ID, "message"), "Unpublished"))
    image.refresh_from_db()
    assert image.published is False

    # Delete, after confirming.
    browser.find_element(By.CSS_SELECTOR, f'li[data-id="{image.pk}"] .delete-button').click()
    confirm = wait(browser, EC.visibility_of_element_located((By.CSS_SELECTOR, f'li[data-id="{image.pk}"] .confirm')))
    assert "cannot be undone" in confirm.text
    confirm.find_element(By.CSS_SELECTOR, ".confirm-yes").click()
    wait(browser, EC.text_to_be_present_in_element((By.ID, "message"), "Deleted “Harbour at dusk”"))
    assert not GalleryImage.objects.exists()
    assert media_files() == set()

    # Log out: the server ends the login and clears the cookie; a reload shows the login form.
    browser.find_element(By.ID, "logout-button").click()
    wait(browser, EC.text_to_be_present_in_element((By.ID, "login-reason"), "You have logged out"))
    assert AuditEvent.objects.filter(action="logout").exists()
    assert browser_cookie(browser, "__Host-adbot_refresh") is None
    assert not LoginSession.objects.filter(ended_at__isnull=True).exists()
    browser.refresh()
    session_state(browser, "out")
    assert visible(browser, "login-view") and not visible(browser, "gallery-view")

    # Any 401 ends the session: the server ended this login (from another tab, the admin site...).
    log_in(browser, cms_password)
    wait(browser, EC.visibility_of_element_located((By.ID, "gallery-view")))
    LoginSession.objects.filter(ended_at__isnull=True).update(ended_at=timezone.now(), end_reason="test")
    upload(browser, photo)
    wait(browser, EC.text_to_be_present_in_element((By.ID, "login-reason"), "The server ended your session"))
    assert not visible(browser, "gallery-view")
    browser.refresh()
    session_state(browser, "out")

    # The warning offers "Stay logged in", which trades the cookie for a new access token.
    token_lifetime(120)  # inside the five-minute warning from the start
    log_in(browser, cms_password)
    wait(browser, EC.visibility_of_element_located((By.ID, "expiry-warning")))
    assert "Your session expires in 2 minutes" in text_of(browser, "expiry-warning")
    token_lifetime(3600)
    browser.find_element(By.ID, "stay-button").click()
    wait(browser, EC.text_to_be_present_in_element((By.ID, "message"), "You stay logged in until"))
    assert not visible(browser, "expiry-warning") and visible(browser, "gallery-view")
    assert_no_readable_token(browser)
    browser.find_element(By.ID, "logout-button").click()
    session_state(browser, "out")

    # A short-lived token: the warning shows at once, then the page logs out by itself,
    # on the server too: a reload does not bring the login back.
    token_lifetime(4)
    log_in(browser, cms_password)
    wait(browser, EC.visibility_of_element_located((By.ID, "expiry-warning")))
    assert "Your session expires in" in text_of(browser, "expiry-warning")
    wait(browser, EC.text_to_be_present_in_element((By.ID, "login-reason"), "Your session expired"))
    assert not visible(browser, "gallery-view") and not visible(browser, "expiry-warning")
    assert browser.switch_to.active_element.get_attribute("id") == "username"
    wait(browser, lambda d: not LoginSession.objects.filter(ended_at__isnull=True).exists())
    browser.refresh()
    session_state(browser, "out")
    assert_no_readable_token(browser)


def test_cms_page_retries_an_upload_while_the_server_is_busy(
    live_server, browser, cms_password, token_lifetime, tmp_path, settings
):
    token_lifetime(3600)
    settings.IMAGE_MAX_SIDE = 200
    settings.IMAGE_DECODE_SLOTS = 1
    settings.IMAGE_DECODE_WAIT = 0  # a busy server answers 503 at once, with Retry-After: 1
    photo = tmp_path / "busy-harbour.png"
    photo.write_bytes(image_files.png_bytes(640, 480))
    browser.get(f"{live_server.url}/cms/")
    log_in(browser, cms_password)
    wait(browser, EC.visibility_of_element_located((By.ID, "gallery-view")))

    with ExitStack() as busy:
        # Another upload is being decoded in this (the live server's) process.
        busy.enter_context(slots.held(services.DECODE_SLOTS, 1, wait=0, busy=AssertionError("the slot was not free")))
        upload(browser, photo, title="Busy harbour")
        wait(browser, EC.text_to_be_present_in_element((By.ID, "message"), "waiting…"))
        assert "the server is busy" in text_of(browser, "message")
        assert browser.find_element(By.ID, "upload-button").get_attribute("disabled") is not None
        assert not GalleryImage.objects.exists()
        assert AuditEvent.objects.filter(action="gallery_image.upload", outcome=Outcome.FAILURE).exists()

    # The slot is free again: the page tries once more by itself, after Retry-After.
    wait(browser, EC.text_to_be_present_in_element((By.ID, "message"), "Uploaded “Busy harbour”"))
    image = GalleryImage.objects.get()
    assert (image.width, image.height, image.original_width, image.original_height) == (200, 150, 640, 480)
    facts = browser.find_element(By.CSS_SELECTOR, f'li[data-id="{image.pk}"] .facts').text
    assert "200×150 (uploaded 640×480)" in facts
    assert browser.find_element(By.ID, "upload-button").get_attribute("disabled") is None


def test_cms_page_loads_without_csp_violations(live_server, browser):
    browser.get(f"{live_server.url}/cms/")
    wait(browser, EC.visibility_of_element_located((By.ID, "login-form")))

    # The script ran under the page's CSP: it filled in the size limit.
    assert browser.find_element(By.ID, "max-size").get_attribute("textContent") == "10 MiB"
    session_state(browser, "out")
    # Chromium logs the page's attempt to resume a login (no refresh cookie yet: 401) as a failed load.
    resume = f"{live_server.url}/api/auth/cookie/refresh - Failed to load resource: the server responded with a status of 401"
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert [entry for entry in errors if not entry["message"].startswith(resume)] == []
    assert len(errors) == 1
