/* Passkeys in the browser: the server's WebAuthn options (JSON, binary values in
 * base64url) in, the authenticator's answer (the same JSON form) out.
 *
 * Used by the CMS page and the admin site; no library, no other origin. Written
 * out by hand rather than with PublicKeyCredential.parseCreationOptionsFromJSON
 * and toJSON(), which older browsers lack.
 */
(function () {
  "use strict";

  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) base64 += "=";
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      var copy = { type: item.type, id: toBytes(item.id) };
      if (item.transports) copy.transports = item.transports;
      return copy;
    });
  }

  function supported() {
    return !!(window.PublicKeyCredential && navigator.credentials);
  }

  /* The JSON form of a credential the browser returned, with its `response` fields as given. */
  function asJSON(credential, response) {
    return {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      response: response,
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || null,
    };
  }

  /* Register: resolves to the registration credential's JSON for .../register/complete. */
  function create(options) {
    var publicKey = Object.assign({}, options, {
      challenge: toBytes(options.challenge),
      user: Object.assign({}, options.user, { id: toBytes(options.user.id) }),
      excludeCredentials: descriptors(options.excludeCredentials),
    });
    return navigator.credentials.create({ publicKey: publicKey }).then(function (credential) {
      var response = credential.response;
      return asJSON(credential, {
        clientDataJSON: toText(response.clientDataJSON),
        attestationObject: toText(response.attestationObject),
        transports: response.getTransports ? response.getTransports() : [],
      });
    });
  }

  /* Sign in: resolves to the assertion's JSON for /api/auth/passkey/complete (or token/2fa, reauthenticate). */
  function get(options) {
    var publicKey = Object.assign({}, options, {
      challenge: toBytes(options.challenge),
      allowCredentials: descriptors(options.allowCredentials),
    });
    return navigator.credentials.get({ publicKey: publicKey }).then(function (credential) {
      var response = credential.response;
      return asJSON(credential, {
        clientDataJSON: toText(response.clientDataJSON),
        authenticatorData: toText(response.authenticatorData),
        signature: toText(response.signature),
        userHandle: response.userHandle ? toText(response.userHandle) : null,
      });
    });
  }

  window.adbotWebAuthn = { supported: supported, create: create, get: get };
})();
