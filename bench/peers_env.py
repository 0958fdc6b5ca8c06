"""The peers bench's environment: a venv of its own for RQ and Huey, and a private redis-server.

Nothing here touches the project's ``.venv``: the peers live in ``/tmp/sc-bench-peers/venv``
(``pip install rq huey redis psutil``), and redis-server comes from the PATH or, when root and
missing, from ``apt-get install -y redis-server``. Each step has a timeout; a step that fails
returns the reason, and the peers that need it are skipped with that reason printed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

BENCH_HOME = Path(os.environ.get("SC_BENCH_PEERS_HOME", "/tmp/sc-bench-peers"))
PEER_PACKAGES = ("rq", "huey", "redis", "psutil")
INSTALL_TIMEOUT = 900


def base_python() -> str:
    """An interpreter to build the bench venv from (the one beneath the project's venv)."""
    return getattr(sys, "_base_executable", None) or shutil.which("python3") or sys.executable


def ensure_venv(home: Path = BENCH_HOME) -> tuple[str | None, str]:
    """The bench venv's python with the peers installed, or ``(None, reason)``."""
    python = home / "venv" / "bin" / "python"
    marker = home / "venv" / ".peers-installed"
    if marker.exists():
        return str(python), "already installed"
    try:
        home.mkdir(parents=True, exist_ok=True)
        if not python.exists():
            subprocess.run([base_python(), "-m", "venv", str(home / "venv")], check=True, timeout=INSTALL_TIMEOUT,
                           capture_output=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True,
                       timeout=INSTALL_TIMEOUT, capture_output=True)
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        return (
            None,
            f"could not install {' '.join(PEER_PACKAGES)} into {home / 'venv'}: {exc} "
            f"{detail.decode(errors='replace')[-300:]}",
        )
    marker.write_text("ok\n")
    return str(python), "installed"


def _redis_pids() -> set[int]:
    import psutil

    found = set()
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] == "redis-server":
            found.add(proc.pid)
    return found


def ensure_redis_server() -> tuple[str | None, str]:
    """The redis-server binary, installed from apt when root and missing, or ``(None, reason)``."""
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if found:
        return found, "found"
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None, "redis-server is not installed (as root: apt-get install -y redis-server)"
    before = _redis_pids()
    reason = _apt_install("redis-server")
    if reason:
        return None, reason
    for pid in _redis_pids() - before:  # a package script that started the system's redis: ours to stop
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    found = shutil.which("redis-server") or "/usr/bin/redis-server"
    return (found, "installed from apt") if Path(found).exists() else (None, "redis-server still missing after apt-get")


def _apt_install(package: str, tries: int = 3) -> str:
    """Install one Debian package (apt-get update once if the first try fails); '' or the reason."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    tail = ""
    for attempt in range(tries):
        try:
            done = subprocess.run(["apt-get", "install", "-y", "-q", package], env=env, timeout=INSTALL_TIMEOUT,
                                  capture_output=True, text=True)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"apt-get install {package} failed: {exc}"
        if done.returncode == 0:
            return ""
        lines = (done.stderr or done.stdout).strip().splitlines()
        tail = lines[-1] if lines else f"exit {done.returncode}"
        if attempt == 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, timeout=INSTALL_TIMEOUT, capture_output=True)
        else:
            time.sleep(10)  # another apt may hold the dpkg lock
    return f"apt-get install {package} failed: {tail}"


def free_port() -> int:
    """A free TCP port on the loopback address."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_ping(port: int, timeout: float = 0.5) -> bool:
    """Whether a Redis server answers PING on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A redis-server on a free loopback port, without persistence, in a directory of its own."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Start it and wait until it answers PING (``RuntimeError`` after ``timeout``)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        cmd = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", str(self.workdir), "--daemonize", "no", "--protected-mode", "yes", "--loglevel", "warning"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited at start (code {self.proc.returncode})")
            if redis_ping(self.port):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not answer PING within 10 s")

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT``."""
        return f"redis://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 5 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
