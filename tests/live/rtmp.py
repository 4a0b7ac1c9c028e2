"""A real nginx-rtmp (config/nginx-rtmp.conf on free ports, in a temporary prefix) and an ffmpeg publisher."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from tests.outage import free_port

CONFIG = Path(__file__).resolve().parents[2] / "config" / "nginx-rtmp.conf"
MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
FFMPEG = shutil.which("ffmpeg") or "ffmpeg"
FFPROBE = shutil.which("ffprobe") or "ffprobe"
START_TIMEOUT = 5.0
STOP_TIMEOUT = 5.0
FFMPEG_TIMEOUT = 20.0


def missing() -> str | None:
    """Why the real thing cannot run here, or None."""
    if not Path(NGINX).exists():
        return "nginx is not installed (apt-get install nginx libnginx-mod-rtmp)"
    if not MODULE.exists():
        return f"{MODULE} is missing (apt-get install libnginx-mod-rtmp)"
    if shutil.which(FFMPEG) is None or shutil.which(FFPROBE) is None:
        return "ffmpeg is not installed (apt-get install ffmpeg)"
    return None


def render(app_url: str, secret: str, rtmp_port: int, http_port: int, update_seconds: int = 10) -> str:
    """The production config with the placeholders filled in, the listeners moved to local test ports,
    and on_update sent every `update_seconds`."""
    text = CONFIG.read_text()
    substitutions = {
        "${VEZA_URL}": app_url,
        "${RTMP_CALLBACK_SECRET}": secret,
        "listen 1935;": f"listen 127.0.0.1:{rtmp_port};",
        "listen 127.0.0.1:8081;": f"listen 127.0.0.1:{http_port};",
        "notify_update_timeout 10s;": f"notify_update_timeout {update_seconds}s;",
    }
    for placeholder, value in substitutions.items():
        if placeholder not in text:
            raise AssertionError(f"{CONFIG.name} no longer contains {placeholder!r}")
        text = text.replace(placeholder, value)
    return text


@dataclass
class Nginx:
    prefix: Path
    rtmp_port: int
    http_port: int
    pid: int = 0  # of the master, which leads the process group of master and worker

    @property
    def error_log(self) -> Path:
        return self.prefix / "error.log"

    def url(self, name: str) -> str:
        return f"rtmp://127.0.0.1:{self.rtmp_port}/live/{name}"

    def log(self) -> str:
        return self.error_log.read_text(errors="replace")

    def crash(self) -> None:
        """SIGKILL master and worker at once: nginx dies without a single on_publish_done."""
        os.killpg(self.pid, signal.SIGKILL)


async def _wait_for_port(port: int, proc: asyncio.subprocess.Process, nginx: Nginx) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT
    while True:
        if proc.returncode is not None:
            raise RuntimeError(f"nginx exited with {proc.returncode}:\n{nginx.log()}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if loop.time() > deadline:
                raise RuntimeError(f"nginx did not listen on {port} within {START_TIMEOUT}s:\n{nginx.log()}") from None
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with suppress(ProcessLookupError):  # crashed by the test
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
        except TimeoutError:
            proc.kill()
            await proc.wait()


@asynccontextmanager
async def running_nginx(prefix: Path, app_url: str, secret: str, update_seconds: int = 10) -> AsyncIterator[Nginx]:
    """nginx in the foreground (in a process group of its own) with its pid, logs and temp files under
    `prefix`; stopped on exit."""
    nginx = Nginx(prefix=prefix, rtmp_port=free_port(), http_port=free_port())
    conf = prefix / "nginx.conf"
    conf.write_text(render(app_url, secret, nginx.rtmp_port, nginx.http_port, update_seconds))
    proc = await asyncio.create_subprocess_exec(
        NGINX,
        "-p",
        f"{prefix}/",
        "-c",
        str(conf),
        "-e",
        str(nginx.error_log),
        "-g",
        f"daemon off; error_log '{nginx.error_log}' info;",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    nginx.pid = proc.pid
    try:
        await _wait_for_port(nginx.rtmp_port, proc, nginx)
        yield nginx
    finally:
        await _stop(proc)


async def start_push(url: str, seconds: float = 3) -> asyncio.subprocess.Process:
    """ffmpeg publishing `seconds` of generated video and audio to `url`, in real time."""
    # fmt: off
    return await asyncio.create_subprocess_exec(
        FFMPEG, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error",
        "-re", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=15",
        "-re", "-f", "lavfi", "-i", "sine=frequency=440",
        "-t", str(seconds),
        "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "15",
        "-c:a", "aac",
        "-f", "flv", url,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    # fmt: on


async def finish(proc: asyncio.subprocess.Process) -> tuple[int, str]:
    """Wait for ffmpeg (killed past FFMPEG_TIMEOUT); its exit code and stderr."""
    try:
        _, stderr = await asyncio.wait_for(proc.communicate(), FFMPEG_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.communicate()
        raise
    assert proc.returncode is not None
    return proc.returncode, stderr.decode(errors="replace")


async def push(url: str, seconds: float = 3) -> tuple[int, str]:
    """Publish `seconds` of test signal to `url`; ffmpeg's exit code and stderr."""
    return await finish(await start_push(url, seconds))


async def probe(url: str) -> tuple[int, str, str]:
    """ffprobe playing `url` as a viewer would: its exit code, the stream types it found, and its stderr."""
    # fmt: off
    proc = await asyncio.create_subprocess_exec(
        FFPROBE, "-hide_banner", "-v", "error", "-rw_timeout", "5000000",
        "-show_entries", "stream=codec_type", "-of", "csv=p=0", url,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    # fmt: on
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), FFMPEG_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.communicate()
        raise
    assert proc.returncode is not None
    return proc.returncode, stdout.decode(), stderr.decode(errors="replace")
