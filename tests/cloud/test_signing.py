"""Token signing against the real openssl binary, keys and tokens."""

from __future__ import annotations

import base64
from pathlib import Path
import re
import shutil
import subprocess

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
import pytest

from custom_components.konnected_aws.cloud.signing import (
    generate_key_pair,
    new_token,
    public_key_of,
    sign_token,
    verify_token_signature,
)


def openssl_signature(key_file: Path, token: str) -> str:
    """`echo -n $token | openssl dgst -sha256 -sign key.pem | openssl base64 -A` (the seed)."""
    openssl = shutil.which("openssl")
    assert openssl is not None, "the project's Python root ships openssl"
    pipeline = subprocess.run(
        [
            "sh",
            "-c",
            f'printf %s "$TOKEN" | {openssl} dgst -sha256 -sign "{key_file}" | {openssl} base64 -A',
        ],
        env={"TOKEN": token, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        check=True,
    )
    return pipeline.stdout.decode()


@pytest.mark.parametrize("bits", [2048, 3072])
def test_signature_is_byte_identical_to_openssl(tmp_path: Path, bits: int) -> None:
    """PKCS#1 v1.5 is deterministic: the same key and token give openssl's exact bytes."""
    pair = generate_key_pair(bits)
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(pair.private_pem)
    for token in (new_token(), "abc", "x" * 300):
        expected = openssl_signature(key_file, token)
        assert "\n" not in expected
        assert sign_token(pair.private_pem, token) == expected


def test_openssl_generated_key_signs_identically(tmp_path: Path) -> None:
    """A key made with `openssl genrsa` (PKCS#1 PEM, as a user would) works the same."""
    openssl = shutil.which("openssl")
    assert openssl is not None
    key_file = tmp_path / "key.pem"
    subprocess.run(
        [openssl, "genrsa", "-traditional", "-out", str(key_file), "2048"],
        check=True,
        capture_output=True,
    )
    token = new_token()
    assert sign_token(key_file.read_bytes(), token) == openssl_signature(key_file, token)


def test_verify_token_signature() -> None:
    """What AWS IoT checks: only the key's signature of exactly this token passes."""
    pair, other = generate_key_pair(), generate_key_pair()
    token = new_token()
    signature = sign_token(pair.private_pem, token)
    assert verify_token_signature(pair.public_pem, token, signature)
    assert not verify_token_signature(pair.public_pem, token + "x", signature)
    assert not verify_token_signature(other.public_pem, token, signature)
    assert not verify_token_signature(pair.public_pem, token, "not base64!")
    assert not verify_token_signature(pair.public_pem, token, base64.b64encode(b"short").decode())
    assert not verify_token_signature(b"not a key", token, signature)
    ec_public = ec.generate_private_key(ec.SECP256R1()).public_key()
    ec_pem = ec_public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert not verify_token_signature(ec_pem, token, signature)


def test_tokens_are_random_url_safe_and_long_enough() -> None:
    """At least 128 random bits, only URL-safe characters, never repeated."""
    tokens = {new_token() for _ in range(200)}
    assert len(tokens) == 200
    for token in tokens:
        assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
        assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) * 8 >= 128


def test_key_pair() -> None:
    """PEM halves that belong together; short keys refused; repr hides the key."""
    pair = generate_key_pair()
    assert pair.private_pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert pair.public_pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert public_key_of(pair.private_pem) == pair.public_pem
    assert "PRIVATE" not in repr(pair)
    with pytest.raises(ValueError, match="2048"):
        generate_key_pair(1024)


def test_sign_token_refuses_a_non_rsa_key() -> None:
    """AWS IoT verifies RSA only: an EC key is a clear error, not a wrong signature."""
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ValueError, match="RSA"):
        sign_token(ec_pem, new_token())
