/* The gallery CMS page: log in with your admin account (password, then a TOTP
 * code or a passkey when two-factor is on), with a passkey alone, or with the
 * shared CMS password where the server still takes it; then manage the gallery
 * through the JSON API with a bearer token. Signed in with an account, the page
 * also lists your passkeys and registers new ones.
 *
 * The login asks for cookie mode: the server keeps the refresh token in an
 * httpOnly cookie this script cannot read, scoped to /api/auth/cookie. The
 * access token lives only in a variable of this script (never in web storage
 * or a readable cookie), so a reload or a new tab gets a fresh one
 * from /api/auth/cookie/refresh. Those cookie calls carry the `csrftoken`
 * cookie's value as X-CSRFToken; every API call sends only the bearer token.
 * A warning with "Stay logged in" shows five minutes before the access token
 * expires; at expiry, on any 401 and on "Log out" the login is ended on the
 * server too and the login form comes back with the reason.
 */
(function () {
  "use strict";

  var WARN_BEFORE_MS = 5 * 60 * 1000;
  var CSRF_COOKIE = "csrftoken";
  var API = {
    login: "/api/cms/login",
    token: "/api/auth/token",
    token2fa: "/api/auth/token/2fa",
    passkeyBegin: "/api/auth/passkey/begin",
    passkeyComplete: "/api/auth/passkey/complete",
    passkeys: "/api/auth/passkeys",
    passkeyRegisterBegin: "/api/auth/passkeys/register/begin",
    passkeyRegisterComplete: "/api/auth/passkeys/register/complete",
    me: "/api/auth/me",
    cookieRefresh: "/api/auth/cookie/refresh",
    cookieLogout: "/api/auth/cookie/logout",
    images: "/api/cms/gallery-images",
    reorder: "/api/cms/gallery-images/reorder",
  };

  var el = {};
  // The access token and when it expires (ms since the epoch): memory only.
  var accessToken = null;
  var accessExpiresAt = 0;
  var images = [];
  var timer = null;
  var warned = false;
  var maxBytes = 0;
  var retryTimer = null;
  // The opaque token of a password step waiting for its second factor.
  var mfaToken = null;
  // A busy server is tried this many times in all before the page gives up and says so.
  var MAX_UPLOAD_ATTEMPTS = 10;

  function $(id) {
    return document.getElementById(id);
  }

  /* ---- messages ------------------------------------------------------ */

  function say(text, kind) {
    el.message.textContent = text || "";
    el.message.className = "message" + (kind ? " " + kind : "");
  }

  function describeBytes(count) {
    if (count >= 1024 * 1024) return +(count / (1024 * 1024)).toFixed(1) + " MiB";
    if (count >= 1024) return +(count / 1024).toFixed(1) + " KiB";
    return count + " bytes";
  }

  function describeWait(seconds) {
    seconds = Math.max(1, Math.ceil(seconds));
    if (seconds < 60) return seconds + (seconds === 1 ? " second" : " seconds");
    var minutes = Math.ceil(seconds / 60);
    return minutes + (minutes === 1 ? " minute" : " minutes");
  }

  /* Return a sentence for an API error: status, the body's words, Retry-After. */
  function errorText(status, body, retryAfter, action) {
    var detail = body && body.detail ? String(body.detail) : "";
    if (status === 0) return action + " failed: the server could not be reached.";
    if (status === 400) {
      var errors = body && body.errors;
      if (errors && typeof errors === "object") {
        var parts = [];
        Object.keys(errors).forEach(function (field) {
          var list = Array.isArray(errors[field]) ? errors[field] : [errors[field]];
          var name = field === "non_field_errors" ? "" : field.replace(/_/g, " ") + ": ";
          parts.push(name + list.join(" "));
        });
        if (parts.length) return action + " refused. " + parts.join("; ");
      }
      return action + " refused. " + (detail || "The request was not valid.");
    }
    if (status === 403) return action + " refused: " + (detail || "this account may not do that.");
    if (status === 404) return action + " failed: the image no longer exists.";
    if (status === 413) return action + " refused: the file is too large" + (detail ? " (" + detail + ")" : "") + ".";
    if (status === 429) {
      var wait = parseInt(retryAfter, 10);
      return action + " refused: too many requests. Try again in " + describeWait(isNaN(wait) ? 60 : wait) + ".";
    }
    if (status === 503) return action + " failed: " + (detail || "the service is unavailable. Try again shortly.");
    return action + " failed (HTTP " + status + ")" + (detail ? ": " + detail : ".");
  }

  /* ---- token and session -------------------------------------------- */

  function token() {
    return accessToken;
  }

  function expiresAt() {
    return accessExpiresAt;
  }

  function setSession(newToken, expiresInSeconds) {
    accessToken = newToken;
    accessExpiresAt = Date.now() + expiresInSeconds * 1000;
  }

  function clearSession() {
    accessToken = null;
    accessExpiresAt = 0;
    if (retryTimer !== null) {
      clearTimeout(retryTimer);
      retryTimer = null;
      el.uploadButton.disabled = false;
    }
    if (timer !== null) {
      clearInterval(timer);
      timer = null;
    }
  }

  /* Return the CSRF token Django set as a readable cookie, or "". */
  function csrfToken() {
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (parts[i].slice(0, eq) === CSRF_COOKIE) return decodeURIComponent(parts[i].slice(eq + 1));
    }
    return "";
  }

  /* POST to a cookie endpoint (the refresh cookie goes along); resolves to {status, body}. */
  function cookieCall(url) {
    return fetch(url, {
      method: "POST",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
      credentials: "same-origin",
      cache: "no-store",
    }).then(
      function (response) {
        return response.json().catch(function () { return null; }).then(function (body) {
          return { status: response.status, body: body };
        });
      },
      function () {
        return { status: 0, body: null };
      }
    );
  }

  /* Trade the refresh cookie for a new access token; resolves to true when there is one. */
  function refreshAccess() {
    return cookieCall(API.cookieRefresh).then(function (result) {
      if (result.status === 200 && result.body && result.body.access) {
        setSession(result.body.access, result.body.expires_in);
        return true;
      }
      return false;
    });
  }

  /* End the login on the server: the refresh cookie, its session and every access token of it. */
  function endServerSession() {
    return cookieCall(API.cookieLogout);
  }

  /* End the session and show the login form with `reason`. */
  function logout(reason) {
    if (token()) endServerSession();
    clearSession();
    document.body.dataset.session = "out";
    images = [];
    el.gallery.textContent = "";
    el.expiryWarning.hidden = true;
    el.galleryView.hidden = true;
    el.sessionBar.hidden = true;
    el.loginView.hidden = false;
    el.loginReason.textContent = reason || "";
    say("");
    resetAccountForm();
    if (el.password) el.password.value = "";
    el.username.focus();
  }

  function checkExpiry() {
    var left = expiresAt() - Date.now();
    if (!token()) return;
    if (left <= 0) {
      logout("Your session expired. Log in again to continue.");
      return;
    }
    if (left <= WARN_BEFORE_MS) {
      var text = "Your session expires in " + describeWait(left / 1000) + ". Choose “Stay logged in” to keep working, or you will need to log in again.";
      // Written once, then updated in place: a live region re-read every second helps nobody.
      if (!warned) {
        warned = true;
        el.expiryWarning.hidden = false;
      }
      if (el.expiryText.textContent !== text) el.expiryText.textContent = text;
    }
  }

  function showExpiry() {
    var until = new Date(expiresAt());
    el.sessionInfo.textContent = "Logged in until " + until.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function onStayLoggedIn() {
    el.stayButton.disabled = true;
    refreshAccess().then(function (ok) {
      el.stayButton.disabled = false;
      if (!ok) {
        logout("The server ended your session. Log in again.");
        return;
      }
      warned = false;
      el.expiryWarning.hidden = true;
      el.expiryText.textContent = "";
      showExpiry();
      say("You stay logged in until " + new Date(expiresAt()).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) + ".", "ok");
      el.main.focus();
    });
  }

  function startSession() {
    warned = false;
    el.expiryWarning.hidden = true;
    el.expiryText.textContent = "";
    el.loginView.hidden = true;
    el.loginReason.textContent = "";
    el.galleryView.hidden = false;
    el.sessionBar.hidden = false;
    document.body.dataset.session = "in";
    showExpiry();
    if (timer !== null) clearInterval(timer);
    timer = setInterval(checkExpiry, 1000);
    checkExpiry();
    loadGallery();
    loadPasskeys();
  }

  /* ---- API calls ----------------------------------------------------- */

  /* fetch with the bearer token; resolves to {status, body, headers}; a 401 logs out. */
  function api(method, url, body) {
    var headers = { Accept: "application/json", Authorization: "Bearer " + token() };
    var init = { method: method, headers: headers, credentials: "omit", cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(
      function (response) {
        return response.text().then(function (text) {
          var data = null;
          try {
            data = text ? JSON.parse(text) : null;
          } catch (e) {
            data = null;
          }
          return { status: response.status, body: data, headers: response.headers };
        });
      },
      function () {
        return { status: 0, body: null, headers: new Headers() };
      }
    ).then(function (result) {
      if (result.status === 401 && token()) {
        logout("The server ended your session" + (result.body && result.body.detail ? " (" + result.body.detail + ")" : "") + ". Log in again.");
        result.loggedOut = true;
      }
      return result;
    });
  }

  function failed(result, action) {
    if (result.loggedOut) return;
    say(errorText(result.status, result.body, result.headers.get("Retry-After"), action), "error");
  }

  /* ---- login and logout --------------------------------------------- */

  function onLogin(event) {
    event.preventDefault();
    var password = el.password.value;
    if (!password) {
      el.loginReason.textContent = "Enter the password.";
      el.password.focus();
      return;
    }
    el.loginButton.disabled = true;
    el.loginReason.textContent = "";
    fetch(API.login, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      // Cookie mode: the refresh token comes back as an httpOnly cookie, which "same-origin" lets the browser keep.
      body: JSON.stringify({ password: password, session: "cookie" }),
      credentials: "same-origin",
      cache: "no-store",
    })
      .then(function (response) {
        return response.json().catch(function () { return null; }).then(function (body) {
          return { status: response.status, body: body, headers: response.headers };
        });
      }, function () {
        return { status: 0, body: null, headers: new Headers() };
      })
      .then(function (result) {
        el.loginButton.disabled = false;
        if (result.status === 200 && result.body && result.body.access_token) {
          el.password.value = "";
          return finishLogin(result.body.access_token, result.body.expires_in);
        }
        var text;
        if (result.status === 401) text = "Wrong password. Try again.";
        else text = errorText(result.status, result.body, result.headers.get("Retry-After"), "Log in");
        el.loginReason.textContent = text;
        el.password.select();
        el.password.focus();
      });
  }

  /* Keep the new access token and open the gallery. */
  function finishLogin(access, expiresIn) {
    setSession(access, expiresIn);
    // /api/auth/me gives the server's own count of the seconds left.
    return api("GET", API.me).then(function (me) {
      if (me.status === 200 && me.body && typeof me.body.expires_in === "number") {
        accessExpiresAt = Date.now() + me.body.expires_in * 1000;
      }
      if (!me.loggedOut) {
        resetAccountForm();
        startSession();
        say("Logged in.", "ok");
        el.main.focus();
      }
    });
  }

  /* POST JSON without a bearer token (the login steps); resolves to {status, body, headers}. */
  function post(url, body) {
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
      // Cookie mode: the refresh token comes back as an httpOnly cookie, which "same-origin" lets the browser keep.
      credentials: "same-origin",
      cache: "no-store",
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (data) {
        return { status: response.status, body: data, headers: response.headers };
      });
    }, function () {
      return { status: 0, body: null, headers: new Headers() };
    });
  }

  function loginFailed(result, wrong) {
    var text = result.status === 401 ? wrong : errorText(result.status, result.body, result.headers.get("Retry-After"), "Log in");
    el.loginReason.textContent = text;
  }

  function setBusy(busy) {
    [el.accountButton, el.passkeyLoginButton, el.mfaButton, el.mfaPasskeyButton].forEach(function (button) {
      button.disabled = busy;
    });
  }

  function resetAccountForm() {
    mfaToken = null;
    el.accountStep.hidden = false;
    el.mfaStep.hidden = true;
    el.accountPassword.value = "";
    el.mfaCode.value = "";
    setBusy(false);
  }

  /* Ask the browser for a passkey assertion answering the server's options; resolves to it, or null. */
  function passkeyAssertion(username) {
    if (!window.adbotWebAuthn || !window.adbotWebAuthn.supported()) {
      el.loginReason.textContent = "This browser cannot use passkeys.";
      return Promise.resolve(null);
    }
    return post(API.passkeyBegin, username ? { username: username } : {}).then(function (begun) {
      if (begun.status !== 200) {
        loginFailed(begun, "The passkey sign-in could not start.");
        return null;
      }
      return window.adbotWebAuthn.get(begun.body).catch(function () {
        el.loginReason.textContent = "No passkey was used. Try again, or log in with your password.";
        return null;
      });
    });
  }

  function onAccountLogin(event) {
    event.preventDefault();
    var username = el.username.value.trim();
    if (!username || !el.accountPassword.value) {
      el.loginReason.textContent = "Enter your username and password.";
      (username ? el.accountPassword : el.username).focus();
      return;
    }
    setBusy(true);
    el.loginReason.textContent = "";
    post(API.token, { username: username, password: el.accountPassword.value, session: "cookie" }).then(function (result) {
      setBusy(false);
      if (result.status === 200 && result.body && result.body.mfa_required) {
        mfaToken = result.body.mfa_token;
        el.accountStep.hidden = true;
        el.mfaStep.hidden = false;
        el.mfaCode.focus();
        return;
      }
      if (result.status === 200 && result.body && result.body.access) {
        return finishLogin(result.body.access, result.body.expires_in);
      }
      loginFailed(result, "Wrong username or password. Try again.");
      el.accountPassword.select();
      el.accountPassword.focus();
    });
  }

  function secondStep(body) {
    body.mfa_token = mfaToken;
    body.session = "cookie";
    return post(API.token2fa, body).then(function (result) {
      setBusy(false);
      if (result.status === 200 && result.body && result.body.access) {
        return finishLogin(result.body.access, result.body.expires_in);
      }
      if (result.status === 401 && result.body && result.body.code === "mfa_token_invalid") {
        resetAccountForm();
        el.loginReason.textContent = "That took too long or too many tries: log in again.";
        el.accountPassword.focus();
        return;
      }
      loginFailed(result, "Wrong code or passkey. Try again.");
      el.mfaCode.select();
      el.mfaCode.focus();
    });
  }

  function onMfaCode() {
    var code = el.mfaCode.value.trim();
    if (!code) {
      el.loginReason.textContent = "Enter the code.";
      el.mfaCode.focus();
      return;
    }
    setBusy(true);
    el.loginReason.textContent = "";
    secondStep({ code: code });
  }

  /* Asks for a passkey and hands its assertion to `use`; a cancelled prompt just ends the wait. */
  function withPasskey(use) {
    setBusy(true);
    el.loginReason.textContent = "";
    // With a username, that account's passkeys; without, any this browser holds for the site.
    passkeyAssertion(el.username.value.trim()).then(function (credential) {
      if (!credential) {
        setBusy(false);
        return;
      }
      return use(credential);
    });
  }

  function onMfaPasskey() {
    withPasskey(function (credential) {
      return secondStep({ credential: credential });
    });
  }

  function onPasskeyLogin() {
    withPasskey(function (credential) {
      return post(API.passkeyComplete, { credential: credential, session: "cookie" }).then(function (result) {
        setBusy(false);
        if (result.status === 200 && result.body && result.body.access) {
          return finishLogin(result.body.access, result.body.expires_in);
        }
        loginFailed(result, "The passkey was not accepted. Try again.");
      });
    });
  }

  /* ---- your passkeys ----------------------------------------------------- */

  function loadPasskeys() {
    return api("GET", API.passkeys).then(function (result) {
      // A login with the shared CMS password has no account of its own: no passkeys.
      el.passkeysPanel.hidden = result.status !== 200;
      if (result.status !== 200) return;
      el.passkeyList.textContent = "";
      result.body.forEach(function (passkey) {
        var item = document.createElement("li");
        var used = passkey.last_used_at ? "last used " + new Date(passkey.last_used_at).toLocaleString() : "never used";
        item.textContent = passkey.name + " (added " + new Date(passkey.created_at).toLocaleDateString() + ", " + used + ")";
        el.passkeyList.appendChild(item);
      });
    });
  }

  function onPasskeyAdd(event) {
    event.preventDefault();
    var name = el.passkeyName.value.trim();
    if (!name) {
      say("Name the passkey, e.g. the device it lives on.", "error");
      el.passkeyName.focus();
      return;
    }
    if (!window.adbotWebAuthn || !window.adbotWebAuthn.supported()) {
      say("This browser cannot make passkeys.", "error");
      return;
    }
    el.passkeyAddButton.disabled = true;
    api("POST", API.passkeyRegisterBegin, {}).then(function (begun) {
      if (begun.status !== 200) {
        el.passkeyAddButton.disabled = false;
        return failed(begun, "Adding a passkey");
      }
      return window.adbotWebAuthn.create(begun.body).then(function (credential) {
        return api("POST", API.passkeyRegisterComplete, { credential: credential, name: name });
      }, function () {
        return { status: -1 };
      }).then(function (result) {
        el.passkeyAddButton.disabled = false;
        if (result.status === -1) return say("No passkey was made.", "error");
        if (result.status !== 201) return failed(result, "Adding a passkey");
        say("Passkey “" + result.body.name + "” added: you can sign in with it.", "ok");
        return loadPasskeys();
      });
    });
  }

  function onLogout() {
    el.logoutButton.disabled = true;
    // Waits for the server, so a reload right after shows the login form.
    endServerSession().then(function () {
      el.logoutButton.disabled = false;
      clearSession();
      logout("You have logged out.");
    });
  }

  /* ---- the gallery ---------------------------------------------------- */

  function loadGallery() {
    var collected = [];
    function page(url) {
      return api("GET", url).then(function (result) {
        if (result.status !== 200) return failed(result, "Loading the gallery");
        collected = collected.concat(result.body.results || []);
        // `next` is absolute; keep only its path and query so the call stays on this origin.
        if (result.body.next) {
          var next = new URL(result.body.next, window.location.href);
          return page(next.pathname + next.search);
        }
        images = collected;
        render();
      });
    }
    return page(API.images + "?page_size=200");
  }

  function byId(id) {
    for (var i = 0; i < images.length; i++) if (images[i].id === id) return images[i];
    return null;
  }

  function label(image) {
    return image.title ? "“" + image.title + "”" : "image " + image.id;
  }

  function render(focus) {
    el.gallery.textContent = "";
    el.galleryEmpty.hidden = images.length > 0;
    el.galleryCount.textContent = "(" + images.length + (images.length === 1 ? " image)" : " images)");
    images.forEach(function (image, index) {
      el.gallery.appendChild(renderItem(image, index));
    });
    if (focus) {
      var target = el.gallery.querySelector('[data-id="' + focus.id + '"] .' + focus.button);
      if (target && !target.disabled) target.focus();
      else {
        var item = el.gallery.querySelector('[data-id="' + focus.id + '"] .up-button, [data-id="' + focus.id + '"] .down-button');
        if (item) item.focus();
      }
    }
  }

  /* Return " (uploaded W×H)" when the image was scaled down to web size, else "". */
  function uploadedSize(image) {
    if (!image.original_width || (image.original_width === image.width && image.original_height === image.height)) return "";
    return " (uploaded " + image.original_width + "×" + image.original_height + ")";
  }

  function renderItem(image, index) {
    var node = el.template.content.firstElementChild.cloneNode(true);
    var id = image.id;
    node.dataset.id = String(id);
    var thumb = node.querySelector(".thumb");
    thumb.src = image.thumbnail_url;
    thumb.alt = image.alt_text || "";
    thumb.width = Math.min(200, image.width);
    node.querySelector(".state").textContent = image.published ? "Published" : "Hidden";
    node.querySelector(".state").className = "state " + (image.published ? "on" : "off");
    node.querySelector(".facts").textContent =
      image.format.toUpperCase() + ", " + image.width + "×" + image.height + uploadedSize(image) + ", " + describeBytes(image.size) + ", position " + (index + 1);

    var titleInput = node.querySelector(".title-input");
    var altInput = node.querySelector(".alt-input");
    titleInput.id = "title-" + id;
    altInput.id = "alt-" + id;
    node.querySelector(".title-label").htmlFor = titleInput.id;
    node.querySelector(".alt-label").htmlFor = altInput.id;
    titleInput.value = image.title;
    altInput.value = image.alt_text;

    node.querySelector(".edit-form").addEventListener("submit", function (event) {
      event.preventDefault();
      save(id, { title: titleInput.value, alt_text: altInput.value }, "Saving " + label(image), "Saved");
    });

    var up = node.querySelector(".up-button");
    var down = node.querySelector(".down-button");
    up.disabled = index === 0;
    down.disabled = index === images.length - 1;
    up.setAttribute("aria-label", "Move " + label(image) + " up");
    down.setAttribute("aria-label", "Move " + label(image) + " down");
    up.addEventListener("click", function () { move(id, -1); });
    down.addEventListener("click", function () { move(id, 1); });

    var publish = node.querySelector(".publish-button");
    publish.textContent = image.published ? "Unpublish" : "Publish";
    publish.setAttribute("aria-label", (image.published ? "Unpublish " : "Publish ") + label(image));
    publish.addEventListener("click", function () {
      save(
        id,
        { published: !image.published },
        (image.published ? "Unpublishing " : "Publishing ") + label(image),
        image.published ? "Unpublished" : "Published",
        "publish-button"
      );
    });

    var del = node.querySelector(".delete-button");
    var confirmBox = node.querySelector(".confirm");
    del.setAttribute("aria-label", "Delete " + label(image));
    node.querySelector(".confirm-text").textContent = "Delete " + label(image) + " for good? This cannot be undone.";
    confirmBox.setAttribute("aria-label", "Confirm deletion of " + label(image));
    del.addEventListener("click", function () {
      confirmBox.hidden = false;
      confirmBox.querySelector(".confirm-no").focus();
    });
    confirmBox.querySelector(".confirm-no").addEventListener("click", function () {
      confirmBox.hidden = true;
      del.focus();
    });
    confirmBox.querySelector(".confirm-yes").addEventListener("click", function () {
      remove(id);
    });
    return node;
  }

  function save(id, changes, action, doneVerb, focusButton) {
    return api("PATCH", API.images + "/" + id, changes).then(function (result) {
      if (result.status !== 200) return failed(result, action);
      var index = images.findIndex(function (image) { return image.id === id; });
      if (index >= 0) images[index] = result.body;
      render({ id: id, button: focusButton || "save-button" });
      say(doneVerb + " " + label(result.body) + ".", "ok");
    });
  }

  function move(id, step) {
    var index = images.findIndex(function (image) { return image.id === id; });
    var target = index + step;
    if (index < 0 || target < 0 || target >= images.length) return;
    var order = images.map(function (image) { return image.id; });
    order.splice(index, 1);
    order.splice(target, 0, id);
    var image = byId(id);
    api("POST", API.reorder, { ids: order }).then(function (result) {
      if (result.status !== 200) return failed(result, "Moving " + label(image));
      var ids = result.body.ids;
      images.sort(function (a, b) { return ids.indexOf(a.id) - ids.indexOf(b.id); });
      images.forEach(function (item, position) { item.position = position; });
      render({ id: id, button: step < 0 ? "up-button" : "down-button" });
      say("Moved " + label(image) + " to position " + (ids.indexOf(id) + 1) + ".", "ok");
    });
  }

  function remove(id) {
    var image = byId(id);
    var index = images.indexOf(image);
    api("DELETE", API.images + "/" + id).then(function (result) {
      if (result.status !== 204 && result.status !== 404) return failed(result, "Deleting " + label(image));
      images = images.filter(function (item) { return item.id !== id; });
      render();
      var next = images[Math.min(index, images.length - 1)];
      if (next) render({ id: next.id, button: "delete-button" });
      else el.uploadFile.focus();
      say("Deleted " + label(image) + ".", "ok");
    });
  }

  /* ---- upload --------------------------------------------------------- */

  function onUpload(event) {
    event.preventDefault();
    var file = el.uploadFile.files[0];
    if (!file) {
      say("Choose an image file first.", "error");
      el.uploadFile.focus();
      return;
    }
    if (maxBytes && file.size > maxBytes) {
      say("Upload refused: " + file.name + " is " + describeBytes(file.size) + "; the limit is " + describeBytes(maxBytes) + ".", "error");
      el.uploadFile.focus();
      return;
    }
    var form = new FormData();
    form.append("image", file);
    form.append("title", el.uploadTitle.value);
    form.append("alt_text", el.uploadAlt.value);
    form.append("published", el.uploadPublished.checked ? "true" : "false");
    el.uploadButton.disabled = true;
    sendUpload(file, form, 1);
  }

  /* Send one upload attempt; a 503 with Retry-After is tried again after that wait. */
  function sendUpload(file, form, attempt) {
    retryTimer = null;
    var xhr = new XMLHttpRequest();
    xhr.open("POST", API.images);
    xhr.setRequestHeader("Authorization", "Bearer " + token());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) return;
      var percent = Math.round((e.loaded / e.total) * 100);
      el.uploadProgress.value = percent;
      el.uploadPercent.textContent = percent + "%";
    });
    xhr.addEventListener("loadend", function () {
      el.progressBox.hidden = true;
      var body = null;
      try {
        body = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch (e) {
        body = null;
      }
      if (xhr.status === 401 && token()) {
        el.uploadButton.disabled = false;
        logout("The server ended your session" + (body && body.detail ? " (" + body.detail + ")" : "") + ". Log in again.");
        return;
      }
      // The server is busy (every image decode slot taken, say) and says when to come back.
      var wait = parseInt(xhr.getResponseHeader("Retry-After"), 10);
      if (xhr.status === 503 && !isNaN(wait) && attempt < MAX_UPLOAD_ATTEMPTS && token()) {
        say("Upload of " + file.name + ": the server is busy, waiting… (trying again in " + describeWait(wait) + ")");
        retryTimer = setTimeout(function () {
          sendUpload(file, form, attempt + 1);
        }, Math.max(1, wait) * 1000);
        return;
      }
      el.uploadButton.disabled = false;
      if (xhr.status !== 201) {
        say(errorText(xhr.status, body, xhr.getResponseHeader("Retry-After"), "Upload of " + file.name), "error");
        return;
      }
      images.push(body);
      images.sort(function (a, b) { return a.position - b.position || a.id - b.id; });
      el.uploadForm.reset();
      el.uploadPublished.checked = true;
      render();
      say("Uploaded " + label(body) + ".", "ok");
    });
    el.uploadProgress.value = 0;
    el.uploadPercent.textContent = "0%";
    el.progressBox.hidden = false;
    say(attempt > 1 ? "Uploading " + file.name + " (attempt " + attempt + ")…" : "Uploading " + file.name + "…");
    xhr.send(form);
  }

  /* ---- start ---------------------------------------------------------- */

  function init() {
    el = {
      main: $("main"),
      message: $("message"),
      expiryWarning: $("expiry-warning"),
      expiryText: $("expiry-text"),
      stayButton: $("stay-button"),
      loginView: $("login-view"),
      loginForm: $("login-form"),
      loginReason: $("login-reason"),
      loginButton: $("login-button"),
      password: $("password"),
      username: $("username"),
      accountForm: $("account-form"),
      accountStep: $("account-step"),
      accountPassword: $("account-password"),
      accountButton: $("account-button"),
      passkeyLoginButton: $("passkey-login-button"),
      mfaStep: $("mfa-step"),
      mfaCode: $("mfa-code"),
      mfaButton: $("mfa-button"),
      mfaPasskeyButton: $("mfa-passkey-button"),
      passkeysPanel: $("passkeys-panel"),
      passkeyList: $("passkey-list"),
      passkeyForm: $("passkey-form"),
      passkeyName: $("passkey-name"),
      passkeyAddButton: $("passkey-add-button"),
      galleryView: $("gallery-view"),
      sessionBar: $("session-bar"),
      sessionInfo: $("session-info"),
      logoutButton: $("logout-button"),
      uploadForm: $("upload-form"),
      uploadFile: $("upload-file"),
      uploadTitle: $("upload-title"),
      uploadAlt: $("upload-alt"),
      uploadPublished: $("upload-published"),
      uploadButton: $("upload-button"),
      progressBox: $("upload-progress-box"),
      uploadProgress: $("upload-progress"),
      uploadPercent: $("upload-percent"),
      gallery: $("gallery"),
      galleryEmpty: $("gallery-empty"),
      galleryCount: $("gallery-count"),
      template: $("item-template"),
    };
    maxBytes = parseInt(document.body.dataset.maxBytes || "0", 10);
    $("max-size").textContent = describeBytes(maxBytes);
    // The shared password's form is there only while the server takes it.
    if (el.loginForm) el.loginForm.addEventListener("submit", onLogin);
    el.accountForm.addEventListener("submit", onAccountLogin);
    el.passkeyLoginButton.addEventListener("click", onPasskeyLogin);
    el.mfaButton.addEventListener("click", onMfaCode);
    el.mfaPasskeyButton.addEventListener("click", onMfaPasskey);
    el.mfaCode.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault();
        onMfaCode();
      }
    });
    el.passkeyForm.addEventListener("submit", onPasskeyAdd);
    el.logoutButton.addEventListener("click", onLogout);
    el.uploadForm.addEventListener("submit", onUpload);
    el.stayButton.addEventListener("click", onStayLoggedIn);
    // A reload or a new tab: the refresh cookie, when there is a live one, logs this page in again.
    document.body.dataset.session = "resuming";
    el.loginView.hidden = true;
    refreshAccess().then(function (ok) {
      if (ok) {
        startSession();
        return;
      }
      clearSession();
      document.body.dataset.session = "out";
      el.loginView.hidden = false;
      el.username.focus();
    });
  }

  document.addEventListener("DOMContentLoaded", init);
})();
