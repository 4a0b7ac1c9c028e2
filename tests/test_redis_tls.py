"""rediss:// with a self-signed certificate (Heroku Redis): REDIS_SSL_CERT_REQS reaches every client."""

from __future__ import annotations

import datetime
import subprocess
import time

import pytest
import redis as redis_sync
from arq.connections import create_pool
from arq.jobs import Job, JobStatus
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from redis.asyncio.connection import SSLConnection
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.factories import register
from tests.outage import REDIS_SERVER, free_port
from veza.app import create_app
from veza.redis import arq_settings, connect_arq, connect_redis, redis_unreachable
from workers.run import supervise

pytestmark = pytest.mark.slow


def self_signed(directory) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "redis.example.internal")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "redis.crt", directory / "redis.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


@pytest.fixture
def tls_redis_url(tmp_path):
    """A redis-server that speaks only TLS, with a self-signed certificate."""
    cert, key = self_signed(tmp_path)
    port = free_port()
    args = ["--port", "0", "--tls-port", str(port), "--tls-cert-file", cert, "--tls-key-file", key]
    args += ["--tls-ca-cert-file", cert, "--tls-auth-clients", "no", "--save", "", "--dir", str(tmp_path)]
    process = subprocess.Popen([REDIS_SERVER, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    probe = redis_sync.Redis(port=port, ssl=True, ssl_cert_reqs="none", socket_connect_timeout=0.2)
    deadline = time.monotonic() + 10
    try:
        while True:
            try:
                probe.ping()
                break
            except redis_sync.ConnectionError:
                assert time.monotonic() < deadline and process.poll() is None, "redis-server (TLS) did not start"
                time.sleep(0.02)
        yield f"rediss://127.0.0.1:{port}/0"
    finally:
        probe.close()
        process.kill()
        process.wait()


def test_the_certificate_check_setting_reaches_every_client(settings):
    heroku = settings.model_copy(update={"redis_url": "rediss://h.example:6380/0", "redis_ssl_cert_reqs": "none"})
    for client in (connect_redis(heroku), connect_arq(heroku)):
        assert client.connection_pool.connection_class is SSLConnection
        assert client.connection_pool.connection_kwargs["ssl_cert_reqs"] == "none"
        assert client.connection_pool.connection_kwargs["socket_timeout"] == heroku.redis_timeout
    worker_side = arq_settings(heroku)
    assert (worker_side.ssl, worker_side.ssl_cert_reqs) == (True, "none")
    # Plain and unix URLs get no TLS options (their connections would refuse them).
    for url in ("redis://127.0.0.1:6379/3", "unix:///tmp/redis.sock?db=3"):
        plain = connect_redis(settings.model_copy(update={"redis_url": url, "redis_ssl_cert_reqs": "none"}))
        assert "ssl_cert_reqs" not in plain.connection_pool.connection_kwargs
        plain.connection_pool.make_connection()


async def test_a_self_signed_rediss_server_needs_the_check_off(settings, tls_redis_url):
    strict = settings.model_copy(update={"redis_url": tls_redis_url})
    client = connect_redis(strict)
    with pytest.raises(RedisConnectionError) as refused:
        await client.ping()
    assert "certificate verify failed" in str(refused.value)
    assert redis_unreachable(refused.value)
    await client.aclose()

    heroku = settings.model_copy(update={"redis_url": tls_redis_url, "redis_ssl_cert_reqs": "none"})
    for client in (connect_redis(heroku), connect_arq(heroku), await create_pool(arq_settings(heroku))):
        assert await client.ping()
        await client.aclose()


async def test_web_and_worker_work_over_rediss(aiohttp_client, settings, tls_redis_url):
    heroku = settings.model_copy(update={"redis_url": tls_redis_url, "redis_ssl_cert_reqs": "none"})
    client = await aiohttp_client(create_app(heroku))
    await register(client)  # its rate limit counts in Redis

    pool = connect_arq(heroku)
    await pool.enqueue_job("worker_heartbeat", _job_id="over-tls")
    await supervise(heroku, burst=True)
    assert await Job("over-tls", pool).status() == JobStatus.complete
    await pool.aclose()
