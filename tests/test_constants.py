"""Every Redis key the application writes is named in veza.constants."""

from tests.factories import PASSWORD, register
from veza import constants
from veza.keys import REDIS


async def test_every_redis_key_written_is_named_in_the_constants(client):
    user = await register(client)
    await client.post("/api/v1/auth/login", json={"email": user["user"]["email"], "password": PASSWORD + "x"})
    assert (await client.get("/api/v1/users/me", headers=user["headers"])).status == 200
    names = tuple(value for name, value in vars(constants).items() if name.endswith(("_KEY", "_PREFIX")))
    written = [key async for key in client.app[REDIS].scan_iter()]
    assert {key.split(":")[1] for key in written} >= {"rl", "login", "auth"}
    assert [key for key in written if not key.startswith(names)] == []
