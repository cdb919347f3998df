"""A software authenticator for tests: attestation "none" and assertions built by hand, signed with P-256.

It answers the options the server returns as a browser and an authenticator
would (WebAuthn Level 3, JSON forms): clientDataJSON, authenticator data with
the RP ID hash, flags and sign count, and an ES256 signature over
authenticatorData || SHA-256(clientDataJSON). Every value can be bent to
test a refusal: origin, RP ID, sign count, user verification, challenge.
"""

import base64
import hashlib
import json
import secrets

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

ORIGIN = "http://localhost:8000"
RP_ID = "localhost"
FLAG_UP = 0x01
FLAG_UV = 0x04
FLAG_AT = 0x40


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftAuthenticator:
    """One credential on one authenticator, as a platform authenticator with user verification holds it."""

    def __init__(self, *, origin=ORIGIN, rp_id=RP_ID):
        self.origin = origin
        self.rp_id = rp_id
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = secrets.token_bytes(32)
        self.sign_count = 0
        self.user_handle = None

    @property
    def id(self):
        return b64url(self.credential_id)

    def _cose_key(self):
        numbers = self.key.public_key().public_numbers()
        # COSE_Key (RFC 9053): kty EC2, alg ES256, crv P-256, x, y.
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})

    def _client_data(self, kind, challenge, origin):
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin or self.origin, "crossOrigin": False}
        ).encode()

    def _authenticator_data(self, *, rp_id, flags, sign_count, attested=b""):
        rp_id_hash = hashlib.sha256((rp_id or self.rp_id).encode()).digest()
        return rp_id_hash + bytes([flags]) + sign_count.to_bytes(4, "big") + attested

    def register(self, options, *, origin=None, rp_id=None):
        """Return the registration credential (JSON form) answering creation `options`."""
        self.user_handle = options["user"]["id"]
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        attested = bytes(16) + len(self.credential_id).to_bytes(2, "big") + self.credential_id + self._cose_key()
        auth_data = self._authenticator_data(
            rp_id=rp_id, flags=FLAG_UP | FLAG_UV | FLAG_AT, sign_count=self.sign_count, attested=attested
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

    def assertion(self, options, *, origin=None, rp_id=None, sign_count=None, user_verified=True, challenge=None):
        """Return the assertion (JSON form) answering request `options`, the sign count moved on by one."""
        if sign_count is None:
            self.sign_count += 1
            sign_count = self.sign_count
        client_data = self._client_data("webauthn.get", challenge or options["challenge"], origin)
        flags = FLAG_UP | (FLAG_UV if user_verified else 0)
        auth_data = self._authenticator_data(rp_id=rp_id, flags=flags, sign_count=sign_count)
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": self.user_handle,
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }
