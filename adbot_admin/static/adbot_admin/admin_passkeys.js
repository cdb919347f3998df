/* The admin site's passkeys: "Sign in with a passkey" on the login page, "Add a passkey" on /admin/passkeys/.
 *
 * Calls the admin site's own JSON views with the page's CSRF token (X-CSRFToken)
 * and the admin session's cookie; the WebAuthn calls are in webauthn.js.
 */
(function () {
  "use strict";

  function csrfToken() {
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (data) {
        return { status: response.status, body: data };
      });
    }, function () {
      return { status: 0, body: null };
    });
  }

  function show(message, text) {
    message.textContent = text;
    message.hidden = !text;
  }

  function refused(result, action) {
    if (result.status === 0) return action + " failed: the server could not be reached.";
    return action + " refused" + (result.body && result.body.detail ? ": " + result.body.detail : " (HTTP " + result.status + ").");
  }

  function signIn(box) {
    var button = document.getElementById("passkey-login-button");
    var message = document.getElementById("passkey-message");
    button.addEventListener("click", function () {
      if (!window.adbotWebAuthn.supported()) return show(message, "This browser cannot use passkeys.");
      button.disabled = true;
      show(message, "");
      // With a username typed in, that account's passkeys; without, any this browser holds for the site.
      var username = document.getElementById("id_username");
      var body = username && username.value.trim() ? { username: username.value.trim() } : {};
      post(box.dataset.beginUrl, body).then(function (begun) {
        if (begun.status !== 200) return show(message, refused(begun, "Signing in with a passkey"));
        return window.adbotWebAuthn.get(begun.body).then(function (credential) {
          return post(box.dataset.completeUrl, { credential: credential }).then(function (result) {
            if (result.status === 200 && result.body && result.body.redirect) {
              window.location.assign(result.body.redirect);
              return;
            }
            show(message, refused(result, "Signing in with a passkey"));
          });
        }, function () {
          show(message, "No passkey was used.");
        });
      }).then(function () {
        button.disabled = false;
      });
    });
  }

  function register(form) {
    var button = document.getElementById("passkey-add-button");
    var message = document.getElementById("passkey-message");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var name = document.getElementById("passkey-name").value.trim();
      if (!name) return show(message, "Name the passkey, e.g. the device it lives on.");
      if (!window.adbotWebAuthn.supported()) return show(message, "This browser cannot make passkeys.");
      button.disabled = true;
      show(message, "");
      post(form.dataset.beginUrl, {}).then(function (begun) {
        if (begun.status !== 200) return show(message, refused(begun, "Adding a passkey"));
        return window.adbotWebAuthn.create(begun.body).then(function (credential) {
          return post(form.dataset.completeUrl, { credential: credential, name: name }).then(function (result) {
            if (result.status === 201) {
              window.location.reload();
              return;
            }
            show(message, refused(result, "Adding a passkey"));
          });
        }, function () {
          show(message, "No passkey was made.");
        });
      }).then(function () {
        button.disabled = false;
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("passkey-login");
    if (box) signIn(box);
    var form = document.getElementById("passkey-register");
    if (form) register(form);
  });
})();
