"""Passkeys and account logins on the CMS page, in headless Chromium with its virtual authenticator (CDP WebAuthn)."""

import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from adbot_admin.models import AuditEvent, AuthMethod, LoginSession, Passkey
from adbot_admin.tests.factories import TEST_PASSWORD, UserFactory

from .test_browser import browser, session_state, text_of, visible, wait  # noqa: F401  (browser is a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def site(live_server, settings):
    """The live server as the passkeys' relying party: RP ID localhost, its own origin."""
    settings.WEBAUTHN_RP_ID = "localhost"
    settings.WEBAUTHN_ORIGINS = [live_server.url]
    settings.RATELIMIT_LOGIN = "100/m"
    assert live_server.url.startswith("http://localhost:")
    return live_server


def virtual_authenticator(driver):
    """Attach Chromium's virtual platform authenticator: resident keys, user verification, presence simulated."""
    driver.execute_cdp_cmd("WebAuthn.enable", {"enableUI": False})
    return driver.execute_cdp_cmd(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )["authenticatorId"]


def stored_credentials(driver, authenticator_id):
    return driver.execute_cdp_cmd("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]


def fill(driver, element_id, text):
    field = driver.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(text)


def open_page(driver, server):
    driver.get(f"{server.url}/cms/")
    session_state(driver, "out")


def account_login(driver, username, password=TEST_PASSWORD):
    fill(driver, "username", username)
    fill(driver, "account-password", password)
    driver.find_element(By.ID, "account-button").click()


def logged_in(driver):
    wait(driver, EC.visibility_of_element_located((By.ID, "gallery-view")))
    session_state(driver, "in")


def log_out(driver):
    driver.find_element(By.ID, "logout-button").click()
    session_state(driver, "out")


def add_passkey(driver, name):
    wait(driver, EC.visibility_of_element_located((By.ID, "passkeys-panel")))
    fill(driver, "passkey-name", name)
    driver.find_element(By.ID, "passkey-add-button").click()
    wait(driver, EC.text_to_be_present_in_element((By.ID, "message"), f"Passkey “{name}” added"))
    wait(driver, EC.text_to_be_present_in_element((By.ID, "passkey-list"), name))


def last_login_method():
    return LoginSession.objects.order_by("-created_at").first().auth_method


def test_a_passkey_registered_on_the_cms_page_signs_in_there(site, browser):
    UserFactory(username="alice", is_staff=True)
    authenticator = virtual_authenticator(browser)
    open_page(browser, site)

    # An admin's own account, password only (no second factor yet): an admin token, not the CMS scope.
    account_login(browser, "alice")
    logged_in(browser)
    assert last_login_method() == AuthMethod.PASSWORD
    add_passkey(browser, "virtual laptop")
    assert Passkey.objects.get().name == "virtual laptop"
    assert [c["isResidentCredential"] for c in stored_credentials(browser, authenticator)] == [True]
    log_out(browser)

    # Discoverable: no username, the browser offers the passkey it holds for this site.
    browser.find_element(By.ID, "passkey-login-button").click()
    logged_in(browser)
    assert last_login_method() == AuthMethod.PASSKEY
    log_out(browser)

    # With a username: that account's passkeys only.
    fill(browser, "username", "alice")
    browser.find_element(By.ID, "passkey-login-button").click()
    logged_in(browser)
    assert last_login_method() == AuthMethod.PASSKEY
    log_out(browser)

    # The passkey is a second factor now: the password asks for it.
    account_login(browser, "alice")
    wait(browser, EC.visibility_of_element_located((By.ID, "mfa-step")))
    browser.find_element(By.ID, "mfa-passkey-button").click()
    logged_in(browser)
    assert last_login_method() == AuthMethod.PASSWORD_PASSKEY
    assert AuditEvent.objects.filter(action="login", auth_method=AuthMethod.PASSKEY, outcome="success").count() == 2
    assert AuditEvent.objects.filter(action="passkey_register", outcome="success").count() == 1

    # The same passkey opens the admin site.
    admin_passkey_login(browser, site)
    assert AuditEvent.objects.filter(action="admin_site_login", outcome="success").count() == 1


def admin_passkey_login(driver, server, username=""):
    driver.delete_all_cookies()
    driver.get(f"{server.url}/admin/login/")
    fill(driver, "id_username", username)
    wait(driver, EC.element_to_be_clickable((By.ID, "passkey-login-button"))).click()
    wait(driver, EC.url_to_be(f"{server.url}/admin/"))
    wait(driver, EC.text_to_be_present_in_element((By.ID, "site-name"), "adbot admin"))


def test_a_passkey_registered_on_the_admin_site_signs_in_there_and_on_the_cms_page(site, browser):
    UserFactory(username="alice", is_staff=True, is_superuser=True)
    virtual_authenticator(browser)
    browser.get(f"{site.url}/admin/login/")
    fill(browser, "id_username", "alice")
    fill(browser, "id_password", TEST_PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "#login-form input[type=submit]").click()
    wait(browser, EC.url_to_be(f"{site.url}/admin/"))

    browser.get(f"{site.url}/admin/passkeys/")
    fill(browser, "passkey-name", "admin desk")
    browser.find_element(By.ID, "passkey-add-button").click()
    wait(browser, EC.text_to_be_present_in_element((By.ID, "passkey-table"), "admin desk"))
    assert Passkey.objects.get().name == "admin desk"

    admin_passkey_login(browser, site)  # discoverable
    admin_passkey_login(browser, site, username="alice")

    browser.delete_all_cookies()
    open_page(browser, site)
    browser.find_element(By.ID, "passkey-login-button").click()
    logged_in(browser)
    assert last_login_method() == AuthMethod.PASSKEY


def test_an_admin_with_totp_signs_in_on_the_cms_page(site, browser):
    user = UserFactory(username="erin", is_staff=True)
    device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    open_page(browser, site)

    account_login(browser, "erin", password="wrong password")
    wait(browser, EC.text_to_be_present_in_element((By.ID, "login-reason"), "Wrong username or password"))
    account_login(browser, "erin")
    wait(browser, EC.visibility_of_element_located((By.ID, "mfa-step")))
    fill(browser, "mfa-code", f"{TOTP(device.bin_key).token():06d}")
    browser.find_element(By.ID, "mfa-button").click()
    logged_in(browser)
    assert last_login_method() == AuthMethod.PASSWORD_TOTP
    # The refresh cookie brings the same login back after a reload.
    browser.refresh()
    session_state(browser, "in")
    assert visible(browser, "passkeys-panel")


def test_with_cms_password_login_off_the_page_offers_only_accounts(site, browser, settings):
    settings.CMS_PASSWORD_LOGIN = False
    UserFactory(username="alice", is_staff=True)
    open_page(browser, site)

    assert browser.find_elements(By.ID, "login-form") == []
    assert visible(browser, "account-form")
    account_login(browser, "alice")
    logged_in(browser)
    assert "Logged in" in text_of(browser, "message")
