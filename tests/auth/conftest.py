import pytest

from veza.app import create_app
from veza.settings import OWASP_MEMORY_KIB, OWASP_TIME_COST


@pytest.fixture
async def owasp_client(aiohttp_client, settings):
    """An app hashing passwords at the production default (OWASP's cost), not at the suite's lower one."""
    cost = {"password_hash_time_cost": OWASP_TIME_COST, "password_hash_memory_kib": OWASP_MEMORY_KIB}
    return await aiohttp_client(create_app(settings.model_copy(update=cost)))
