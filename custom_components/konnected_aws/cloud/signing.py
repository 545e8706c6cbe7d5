"""Key pairs, tokens and token signatures for the IoT custom authorizer.

The signature is what `echo -n $token | openssl dgst -sha256 -sign key.pem | openssl base64 -A`
prints: RSA PKCS#1 v1.5 over SHA-256 of the raw token, base64 without newlines. PKCS#1 v1.5
is deterministic, so this is byte-identical to OpenSSL.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
import secrets

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

TOKEN_BYTES = 24  # 192 random bits


@dataclass(frozen=True, slots=True)
class KeyPair:
    """PEM-encoded RSA key pair; the private half belongs in SSM only."""

    private_pem: bytes
    public_pem: bytes

    def __repr__(self) -> str:
        """Show nothing of the keys."""
        return "KeyPair(<redacted>)"


def generate_key_pair(bits: int = 2048) -> KeyPair:
    """Generate a new RSA key pair (PKCS#8 private key, SubjectPublicKeyInfo public key)."""
    if bits < 2048:
        raise ValueError("RSA keys shorter than 2048 bits are not accepted")
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return KeyPair(
        private_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        public_pem=key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )


def _rsa_private_key(private_key_pem: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(private_key_pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("The authorizer key must be an RSA key")  # noqa: TRY004 - callers handle any unusable key as ValueError, like a PEM that does not parse
    return key


def public_key_of(private_key_pem: bytes) -> bytes:
    """Return the public half of a PEM RSA private key (ValueError for anything else)."""
    key = _rsa_private_key(private_key_pem)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def new_token() -> str:
    """Return a URL-safe random token (192 bits, 32 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def sign_token(private_key_pem: bytes, token: str) -> str:
    """Base64 RSA-SHA256 signature of the token, as the authorizer verifies it."""
    key = _rsa_private_key(private_key_pem)
    signature = key.sign(token.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def verify_token_signature(public_key_pem: bytes, token: str, signature: str) -> bool:
    """Tell whether `signature` is the key's signature of `token` (what AWS IoT checks)."""
    try:
        key = serialization.load_pem_public_key(public_key_pem)
        raw = base64.b64decode(signature, validate=True)
    except ValueError, binascii.Error:
        return False
    if not isinstance(key, rsa.RSAPublicKey):
        return False
    try:
        key.verify(raw, token.encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True
