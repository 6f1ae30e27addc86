"""VAPID keys (RFC 8292) as the store keeps them: base64url without padding, the private key
as its 32-byte number, the public key as the 65-byte uncompressed point browsers are given
(`applicationServerKey`)."""

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _public(key: ec.EllipticCurvePrivateKey) -> str:
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return _encode(point)


def generate_keys() -> tuple[str, str]:
    """A new pair: (public key, private key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    return _public(key), _encode(key.private_numbers().private_value.to_bytes(32, "big"))


def public_key_of(private_key: str) -> str:
    """The public key that goes with a private key; ValueError if it is not one."""
    raw = _decode(private_key.strip())
    if len(raw) != 32:
        raise ValueError("a VAPID private key is 32 bytes in base64url")
    return _public(ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1()))
