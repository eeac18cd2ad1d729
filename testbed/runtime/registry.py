"""Backends by name. The running testbed remembers its backend in <home>/backend, so every later
command (status, down, faults) talks to the same one without being told again."""

from __future__ import annotations

from testbed.errors import MaildrillError
from testbed.home import Home
from testbed.runtime.backend import Backend


def _local() -> type[Backend]:
    from testbed.runtime.local import LocalBackend

    return LocalBackend


def _docker() -> type[Backend]:
    from testbed.runtime.docker_backend import DockerBackend

    return DockerBackend


BACKENDS = {"local": _local, "docker": _docker}
DEFAULT = "local"


def backend_for(home: Home, name: str | None = None) -> Backend:
    """The backend `name`, or the one the testbed in `home` was brought up with."""
    marker = home.root / "backend"
    if name is None:
        name = marker.read_text().strip() if marker.exists() else DEFAULT
    if name not in BACKENDS:
        raise MaildrillError(f"unknown backend {name!r}; backends are: {', '.join(BACKENDS)}")
    return BACKENDS[name]()(home)


def remember(home: Home, backend: Backend) -> None:
    home.root.mkdir(parents=True, exist_ok=True)
    (home.root / "backend").write_text(backend.name + "\n")
