"""What every plugin kind must do: declare the contract, classify errors, keep secrets."""


from __future__ import annotations

import logging
from collections.abc import Callable
from typing import ClassVar

import pytest

from hub.contracts import (
    API_VERSION,
    CustomerRecord,
    InvoiceRecord,
    PaymentRecord,
    Plugin,
    PluginSettings,
    RecordProblem,
    Tombstone,
    WebhookRequest,
    WebhookResult,
)
from hub.errors import (
    AuthError,
    DeliveryUncertainError,
    PermanentError,
    RateLimitedError,
    RetriableError,
    SignatureError,
)
from hub.testing.recorded import (
    leaks,
    plain_secret_fields,
    run,
    secret_values,
)

#: error case -> (the class the hub needs, what the hub does with it)
ERRORS: dict[str, tuple[type[Exception], str]] = {
    "auth": (AuthError, "marks the connection needs_reauth and asks the user to re-connect"),
    "transient": (RetriableError, "tries again later (e.g. a 500 or 503 before anything was done)"),
    "rate_limited": (RateLimitedError, "pauses until the quota resets (HTTP 429)"),
    "permanent": (PermanentError, "gives up on this item and shows your message (e.g. a 400/422)"),
    "uncertain": (DeliveryUncertainError, "holds the dispatch `uncertain` instead of sending twice"),
}

#: capability flag -> the method a class declaring it must implement
CAPABILITY_METHODS = {
    "supports_refresh": "refresh", "supports_pdf": "fetch_pdf", "supports_writeback": "write_note",
    "supports_payments_writeback": "record_payment", "supports_webhooks": "verify_webhook",
    "supports_status": "status", "supports_deactivate": "deactivate_link",
}

RECORD_TYPES = (CustomerRecord, InvoiceRecord, PaymentRecord, Tombstone, RecordProblem)


class PluginConformance:
    """What every plugin owes the hub, whatever its kind (uses the `relance_plugin` fixture
    each suite maps to its own: `connector`, `channel` or `provider_plugin`)."""

    pytestmark: ClassVar = [pytest.mark.relance_conformance]
    base: ClassVar[type[Plugin]] = Plugin
    #: the failures that make sense for this kind of plugin (see `ERRORS`)
    error_kinds: ClassVar[tuple[str, ...]] = ("auth", "permanent", "rate_limited", "transient")

    def pytest_generate_tests(self, metafunc):
        if "case" in metafunc.fixturenames:
            metafunc.parametrize("case", self.error_kinds)

    @pytest.fixture
    def error_cases(self) -> dict[str, Callable[[], None]]:
        """`{case: arrange}` where `arrange()` makes the next call meet that failure;
        cases: `error_kinds` (see `ERRORS`)."""
        return {}

    @pytest.fixture
    def webhook_cases(self) -> tuple[WebhookRequest, WebhookRequest] | None:
        """`(a validly signed WebhookRequest, the same request forged)`."""
        return None

    def test_declares_the_contract(self, relance_plugin):
        from hub.contracts.manager import api_compatible

        cls = type(relance_plugin)
        assert isinstance(relance_plugin, self.base), \
            f"{cls.__name__} must subclass hub.contracts.{self.base.__name__}"
        assert isinstance(cls.name, str) and cls.name.isidentifier() and cls.name == cls.name.lower(), \
            f"{cls.__name__}.name = {cls.name!r}: use a lowercase identifier (users write it in `plugin:`)"
        assert api_compatible(cls.api_version), (
            f"{cls.__name__}.api_version = {cls.api_version!r} but this Relance offers {API_VERSION}: "
            f"the hub would refuse to load your plugin; target {API_VERSION}")
        assert issubclass(cls.Settings, PluginSettings), \
            f"{cls.__name__}.Settings must subclass hub.contracts.PluginSettings"
        assert cls.Settings.model_config.get("extra") == "forbid", (
            f"{cls.__name__}.Settings accepts unknown keys: keep extra='forbid' so a typo in "
            "relance.yaml is an error at start-up, not a silently ignored setting")
        plain = plain_secret_fields(cls.Settings)
        assert not plain, (f"{cls.__name__}.Settings field(s) {', '.join(plain)} look like secrets "
                           "but are not SecretStr: declare them SecretStr so they are never printed")
        assert cls.description, f"{cls.__name__}.description is empty: `relance plugins` shows it"

    def test_capabilities_are_implemented(self, relance_plugin):
        cls = type(relance_plugin)
        for flag, method in CAPABILITY_METHODS.items():
            if getattr(cls, flag, False):
                assert getattr(cls, method) is not getattr(self.base, method, None) and \
                       getattr(cls, method) is not getattr(Plugin, method, None), (
                    f"{cls.__name__} declares {flag} = True but does not implement {method}(): "
                    "the hub will call it; implement it or drop the flag")

    def test_secrets_never_logged(self, relance_plugin, relance_exercise, caplog):
        secrets = secret_values(relance_plugin.settings)
        if not secrets:
            pytest.skip("your Settings hold no SecretStr value of 4 characters or more")
        caplog.set_level(logging.DEBUG)
        try:
            run(relance_exercise())
        except Exception as exc:  # the other tests judge the outcome; here only the words
            caplog.records.append(logging.makeLogRecord({"msg": str(exc)}))
        leaked = leaks((r.getMessage() for r in caplog.records), secrets)
        assert not leaked, f"your plugin wrote a secret from its Settings to the logs: {leaked[:3]}"

    def test_error_classification(self, relance_plugin, relance_exercise, error_cases, case):
        if case not in error_cases:
            pytest.skip(f"no recorded response for a {case!r} failure: add it to the error_cases fixture")
        expected, consequence = ERRORS[case]
        if case == "uncertain" and getattr(relance_plugin, "idempotent", False):
            # the provider deduplicates: a 5xx mid-send is safe to retry, not uncertain
            expected, consequence = RetriableError, ("sends again with the same idempotency key "
                                                     "(your channel is `idempotent`)")
        error_cases[case]()
        try:
            run(relance_exercise())
        except expected as exc:
            assert str(exc).strip(), (f"your {type(exc).__name__} has no message: say what the "
                                      "provider answered and what the user should do")
            leaked = leaks([str(exc)], secret_values(relance_plugin.settings))
            assert not leaked, f"your error message contains a secret: {leaked[0]}"
        except Exception as exc:
            pytest.fail(f"for the recorded {case!r} response your plugin raised {type(exc).__name__}: "
                        f"{exc}\nraise hub.errors.{expected.__name__} instead: the hub {consequence}")
        else:
            pytest.fail(f"for the recorded {case!r} response your plugin raised nothing; raise "
                        f"hub.errors.{expected.__name__}: the hub {consequence}")

    def test_webhook_verify(self, relance_plugin, webhook_cases):
        if not type(relance_plugin).supports_webhooks:
            pytest.skip(f"{type(relance_plugin).__name__} does not declare supports_webhooks")
        if webhook_cases is None:
            pytest.skip("provide the webhook_cases fixture: (a valid request, a forged one)")
        good, forged = webhook_cases
        result = relance_plugin.verify_webhook(good)
        assert isinstance(result, WebhookResult), \
            f"verify_webhook() must return a WebhookResult, got {type(result).__name__}"
        assert 200 <= result.status_code < 300, \
            f"a validly signed webhook was answered {result.status_code}: the provider will retry it"
        with pytest.raises(SignatureError, match=r"\S"):
            relance_plugin.verify_webhook(forged)


