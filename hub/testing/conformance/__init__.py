"""Conformance suites: subclass one in your plugin's tests and pytest runs the contract.

    import pytest
    from hub.testing.conformance import ChannelConformance
    from relance_mybox import MyBoxChannel

    class TestMyBox(ChannelConformance):
        @pytest.fixture
        def channel(self, relance_context, router):   # relance_context: the pytest plugin's
            return MyBoxChannel(MyBoxChannel.Settings(api_key="key-test"), relance_context)

        @pytest.fixture
        def sent_requests(self, router):              # what reached your (recorded) provider
            return lambda: [call.request for call in router.calls]

        @pytest.fixture
        def error_cases(self, router):                # the provider's recorded failures
            return {"auth": lambda: router.post(URL).respond(401, json={...}),
                    "permanent": lambda: router.post(URL).respond(422, json={...})}

Each suite documents the fixtures it asks for and contributes the tests. A test about a
capability your class does not declare is skipped with the reason; a test whose recorded
responses you did not provide is skipped and says which fixture would enable it. To opt
out of one test, override it in your subclass with `@pytest.mark.skip(reason=...)`.
Failure messages are written for you, the plugin author.
"""
from hub.testing.conformance.base import CAPABILITY_METHODS, ERRORS, PluginConformance
from hub.testing.conformance.channel import ChannelConformance
from hub.testing.conformance.connector import ConnectorConformance
from hub.testing.conformance.payment import PaymentProviderConformance
from hub.testing.recorded import collect, run, sample_message

__all__ = ["CAPABILITY_METHODS", "ERRORS", "ChannelConformance", "ConnectorConformance",
           "PaymentProviderConformance", "PluginConformance", "collect", "run", "sample_message"]
