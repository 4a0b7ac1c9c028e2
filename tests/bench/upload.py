"""Cloud uploads and downloads of one large file, on each storage backend: MB/s and the server's RSS growth.

One Veza web process (pinned to core 0) serves; this process is the client (core 1): it registers a
user, POSTs a multipart body of --size bytes to /api/v1/cloud/files (streamed, with a Content-Length as
browsers send) and GETs it back from /download, checking size and SHA-256. On S3 (a moto server in a
process of its own, core 1) the download is a 302 to a presigned URL, followed without our headers:
the bytes then never pass through Veza.

The server's RSS is sampled every 20 ms; growth = peak during the transfer - RSS after a warm-up round
(a 4 MiB file up and down). Goal: under 64 MiB whatever the size (uploads stream, nothing is buffered).

    .venv/bin/python -m tests.bench.upload [--size-mib 1024] [--backends local,s3]

Needs PostgreSQL and Redis as configured; it makes and migrates a database `<name>_bench` of its own.
moto keeps objects in memory: the S3 run needs about twice --size of free RAM.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator

import aiohttp
import psutil
from yarl import URL

from tests.bench.http import LOAD_CPU, SERVER_CPU, bench_database, free_port, stop, wait_healthy
from tests.bench.report import row

MiB = 1024 * 1024
BLOCK = b"".join(hashlib.sha256(n.to_bytes(4, "big")).digest() for n in range(MiB // 32))  # 1 MiB, not compressible
BOUNDARY = "veza-bench-" + uuid.uuid4().hex


def expected_sha256(size: int) -> str:
    digest = hashlib.sha256()
    for _ in range(size // MiB):
        digest.update(BLOCK)
    digest.update(BLOCK[: size % MiB])
    return digest.hexdigest()


def multipart(size: int) -> tuple[AsyncIterator[bytes], int]:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="bench.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()

    async def body() -> AsyncIterator[bytes]:
        yield head
        left = size
        while left:
            chunk = BLOCK if left >= MiB else BLOCK[:left]
            left -= len(chunk)
            yield chunk
        yield tail

    return body(), len(head) + size + len(tail)


class RssSampler:
    """The peak RSS of a process while a block runs."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._task: asyncio.Task | None = None

    def rss(self) -> int:
        return self.process.memory_info().rss

    async def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, self.rss())
            await asyncio.sleep(0.02)

    async def __aenter__(self) -> RssSampler:
        self.peak = self.rss()
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        self.peak = max(self.peak, self.rss())


async def upload(session: aiohttp.ClientSession, base: str, headers: dict[str, str], size: int) -> dict:
    body, length = multipart(size)
    request_headers = {
        **headers,
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "Content-Length": str(length),
    }
    async with session.post(f"{base}/api/v1/cloud/files", data=body, headers=request_headers) as resp:
        answer = await resp.json()
        if resp.status != 201:
            raise SystemExit(f"upload failed: {resp.status} {answer}")
        return answer["data"]


async def download(session: aiohttp.ClientSession, base: str, headers: dict[str, str], file_id: str) -> str:
    url = f"{base}/api/v1/cloud/files/{file_id}/download"
    async with session.get(url, headers=headers, allow_redirects=False) as resp:
        if resp.status == 302:
            url, headers = resp.headers["Location"], {}
        elif resp.status != 200:
            raise SystemExit(f"download failed: {resp.status}")
        else:
            return await read_all(resp)
    async with session.get(URL(url, encoded=True), headers=headers) as resp:
        if resp.status != 200:
            raise SystemExit(f"presigned download failed: {resp.status}")
        return await read_all(resp)


async def read_all(resp: aiohttp.ClientResponse) -> str:
    digest = hashlib.sha256()
    async for chunk in resp.content.iter_chunked(MiB):
        digest.update(chunk)
    return digest.hexdigest()


def start_server(env: dict[str, str], port: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "veza", "serve", "--host", "127.0.0.1", "--port", str(port)]
    return subprocess.Popen(
        ["taskset", "-c", str(SERVER_CPU), *command], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


async def run_backend(env: dict[str, str], size: int, expected: str) -> dict[str, float]:
    port = free_port()
    server = start_server(env, port)
    base = f"http://127.0.0.1:{port}"
    try:
        await asyncio.to_thread(wait_healthy, f"{base}/api/v1/health")
        timeout = aiohttp.ClientTimeout(total=None, sock_read=600)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            name = f"bench{uuid.uuid4().hex[:10]}"
            body = {"username": name, "email": f"{name}@example.com", "password": "Bench-Password-12345"}
            async with session.post(f"{base}/api/v1/auth/register", json=body) as resp:
                headers = {"Authorization": f"Bearer {(await resp.json())['data']['access_token']}"}
            warm = await upload(session, base, headers, 4 * MiB)  # warm-up: code paths, pools, buffers
            await download(session, base, headers, warm["id"])
            sampler = RssSampler(server.pid)
            baseline = sampler.rss()

            started = time.perf_counter()
            async with sampler:
                file = await upload(session, base, headers, size)
            up_seconds = time.perf_counter() - started
            up_peak = sampler.peak
            if file["sha256"] != expected or file["size_bytes"] != size:
                raise SystemExit(f"the server stored something else: {file}")

            started = time.perf_counter()
            async with sampler:
                got = await download(session, base, headers, file["id"])
            down_seconds = time.perf_counter() - started
            if got != expected:
                raise SystemExit("the download differs from the upload")
            for file_id in (file["id"], warm["id"]):
                await session.delete(f"{base}/api/v1/cloud/files/{file_id}", headers=headers)
    finally:
        stop(server)
    return {
        "up_mb_s": size / up_seconds / 1e6,
        "down_mb_s": size / down_seconds / 1e6,
        "baseline_mib": baseline / MiB,
        "up_growth_mib": (up_peak - baseline) / MiB,
        "down_growth_mib": (sampler.peak - baseline) / MiB,
    }


def start_moto() -> tuple[subprocess.Popen, str]:
    port = free_port()
    moto = subprocess.Popen(
        ["taskset", "-c", str(LOAD_CPU), sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return moto, f"http://127.0.0.1:{port}"
        except OSError:
            if time.monotonic() > deadline or moto.poll() is not None:
                raise SystemExit("moto did not start") from None
            time.sleep(0.1)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--backends", default="local,s3")
    args = parser.parse_args()
    size = args.size_mib * MiB
    os.sched_setaffinity(0, {LOAD_CPU})
    expected = expected_sha256(size)
    base_env = {
        **os.environ,
        "DATABASE_URL": bench_database(),
        "LOG_LEVEL": "WARNING",
        "ACCESS_LOG": "false",
        "UPLOAD_MAX_BYTES": str(max(size, 2 * 1024**3)),
        "USER_QUOTA_BYTES": str(max(4 * size, 5 * 1024**3)),
    }
    results = {}
    with tempfile.TemporaryDirectory(prefix="veza-bench-") as data_dir:
        for backend in args.backends.split(","):
            env = {**base_env, "DATA_DIR": data_dir, "STORAGE_BACKEND": backend}
            moto = None
            if backend == "s3":
                moto, endpoint = start_moto()
                env |= {
                    "S3_ENDPOINT_URL": endpoint,
                    "S3_BUCKET": "veza-bench",
                    "S3_ACCESS_KEY_ID": "bench",
                    "S3_SECRET_ACCESS_KEY": "bench",
                }
            try:
                results[backend] = await run_backend(env, size, expected)
            finally:
                if moto is not None:
                    stop(moto)

    print(f"one {args.size_mib} MiB file up and down, one web process (server RSS growth: peak - after warm-up)")
    for backend, r in results.items():
        print(
            f"  {backend:<5} upload {r['up_mb_s']:7.1f} MB/s  RSS +{r['up_growth_mib']:5.1f} MiB   "
            f"download {r['down_mb_s']:7.1f} MB/s  RSS +{r['down_growth_mib']:5.1f} MiB   "
            f"(RSS after warm-up {r['baseline_mib']:.0f} MiB)"
        )
    worst = max(max(r["up_growth_mib"], r["down_growth_mib"]) for r in results.values())
    print(f"  worst RSS growth {worst:.1f} MiB (goal < 64 MiB)")
    for backend, r in results.items():
        growth = max(r["up_growth_mib"], r["down_growth_mib"])
        row(
            f"{args.size_mib} MiB upload / download, {backend} storage",
            f"{r['up_mb_s']:.0f} / {r['down_mb_s']:.0f} MB/s, RSS +{growth:.1f} MiB",
            "< 64 MiB",
            growth < 64,
        )


if __name__ == "__main__":
    asyncio.run(main())
