import pytest

from tests.payments.fake_hyperswitch import FakeHyperswitch

HYPERSWITCH_API_KEY = "snd_4c1de2f3a4b5c6d7e8f9a0b1c2d3e4f5"


@pytest.fixture
async def fake_hyperswitch(aiohttp_server):
    """A local server speaking Hyperswitch's API (tests/payments/fake_hyperswitch.py); `.url` is its base."""
    fake = FakeHyperswitch(HYPERSWITCH_API_KEY)
    server = await aiohttp_server(fake.app())
    fake.url = str(server.make_url("/"))
    yield fake
    fake.release()
