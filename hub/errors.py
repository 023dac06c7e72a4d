"""Every error Relance raises, arranged by what the caller must do to recover.

    RelanceError                      base of everything below
    ├── ConfigError                   fix relance.yaml (names file:line and key)
    ├── PluginError                   a plugin failed to load or registered something invalid
    ├── TemplateError                 fix the template (names template:line); skips one dispatch
    ├── AuthError                     re-connect: credentials expired, revoked or wrong
    ├── RetriableError                transient; nothing was done, try again after `retry_after`
    │   └── RateLimitedError          the provider said 429 / quota; `retry_after` is its hint
    ├── DeliveryUncertainError        the provider may or may not have acted (timeout mid-send);
    │                                 the dispatch goes `uncertain`, it is never blindly re-sent
    ├── PermanentError                give up on this item and tell the user why
    │   └── SignatureError            a webhook whose signature does not verify (answer 401)
    └── InvalidRecordError            one bad input record: skip it, report `place`, go on

Plugins raise these; the core decides what happens next from the class alone, so a
plugin author never has to know about dispatch states or sync cursors.
"""

from __future__ import annotations


class RelanceError(Exception):
    """Base class. `str(err)` is a sentence meant for a person."""


class ConfigError(RelanceError):
    """relance.yaml (or a plugin's settings) is invalid.

    `place` is ``file:line`` when known, `key` the dotted path of the offending key.
    """

    def __init__(self, message: str, *, place: str | None = None, key: str | None = None):
        self.place, self.key, self.reason = place, key, message
        prefix = ": ".join(p for p in (place, key) if p)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class PluginError(RelanceError):
    """A plugin could not be imported or registered something invalid."""


class TemplateError(RelanceError):
    """A template failed to load or render; `place` is ``template:line``."""

    def __init__(self, message: str, *, place: str | None = None):
        self.place = place
        super().__init__(f"{place}: {message}" if place else message)


class AuthError(RelanceError):
    """Credentials are missing, expired or revoked: the connection needs `relance connect`."""


class RetriableError(RelanceError):
    """A transient failure before anything happened at the provider; safe to retry.

    `retry_after` is the provider's hint in seconds, when it gave one.
    """

    def __init__(self, message: str, *, retry_after: float | None = None):
        self.retry_after = retry_after
        super().__init__(message)


class RateLimitedError(RetriableError):
    """The provider refused for quota reasons (HTTP 429, day limit reached)."""


class DeliveryUncertainError(RelanceError):
    """The request may have reached the provider (timeout after sending, 5xx mid-send).

    Never retried blindly on a channel that does not honour idempotency keys. `provider_ref`
    (when the plugin knows it, as an e-mail's Message-ID) is kept with the dispatch so a
    person can look the message up at the provider.
    """

    def __init__(self, message: str, *, provider_ref: str | None = None):
        self.provider_ref = provider_ref
        super().__init__(message)


class PermanentError(RelanceError):
    """Retrying cannot help (validation error, invalid number, 4xx): give up and explain."""


class SignatureError(PermanentError):
    """A webhook request whose signature is missing or wrong."""


class InvalidRecordError(RelanceError):
    """One input record is bad; `place` names it (``file:line:column``, an API id)."""

    def __init__(self, message: str, *, place: str | None = None):
        self.place, self.reason = place, message
        super().__init__(f"{place}: {message}" if place else message)
