"""Slow salted password hashes (scrypt by default) that do not reveal whether a user exists."""

from __future__ import annotations

from werkzeug.security import check_password_hash, generate_password_hash

# Checked when the username is unknown, so a failed login costs the same either way.
_DUMMY_HASHES: dict[str, str] = {}


def hash_password(password: str, method: str = "scrypt") -> str:
    return generate_password_hash(password, method=method)


def verify_password(password_hash: str | None, password: str, method: str = "scrypt") -> bool:
    if password_hash is None:
        dummy = _DUMMY_HASHES.get(method)
        if dummy is None:
            dummy = _DUMMY_HASHES.setdefault(method, hash_password("not-a-password", method))
        check_password_hash(dummy, password)
        return False
    return check_password_hash(password_hash, password)
