"""Secrets at rest: Fernet encryption with a key outside the database.

The key comes from `RELANCE_SECRET_KEY`, or is created once in the workspace as
`.relance/secret.key` (mode 0600). Back it up with the database: without it, stored
tokens cannot be read and connections must be connected again.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from hub.errors import AuthError


class SecretBox:
    def __init__(self, key: bytes):
        self._key = key
        self._fernet = Fernet(key)

    @classmethod
    def for_workspace(cls, root: Path) -> SecretBox:
        env = os.environ.get("RELANCE_SECRET_KEY")
        if env:
            return cls(env.encode())
        path = root / ".relance" / "secret.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(Fernet.generate_key())
        return cls(path.read_bytes().strip())

    def derive(self, purpose: str) -> str:
        """A key for `purpose` (the dashboard's session signatures), derived from this one:
        every process sharing the secret key shares it, and it needs no file of its own."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        raw = self._key
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                    info=purpose.encode()).derive(raw).hex()

    def encrypt(self, text: str) -> str:
        return self._fernet.encrypt(text.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise AuthError("the stored token cannot be decrypted: the secret key changed; restore "
                            "RELANCE_SECRET_KEY (or .relance/secret.key) or run `relance connect`"
                            ) from None
