"""Authlib's httpx OAuth client, imported without its deprecation warning.

Authlib 1.9.10 prefers the `httpx2` fork and warns, on every import, when it falls back
to httpx. Our stack is httpx (the hub's transports, respx in tests): the fallback is
what we want, and the warning only confused `relance connect`. Authlib is kept below
1.10 in pyproject.toml until we move to httpx2 or Authlib keeps httpx.
"""

import warnings

from authlib.deprecate import AuthlibDeprecationWarning

warnings.filterwarnings("ignore", message="The httpx module is deprecated",
                        category=AuthlibDeprecationWarning)

from authlib.integrations.httpx_client import AsyncOAuth2Client  # noqa: E402

__all__ = ["AsyncOAuth2Client"]
