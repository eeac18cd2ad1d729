"""Every error maildrill raises on purpose derives from MaildrillError.

The CLI catches MaildrillError and prints its message without a traceback; anything else is a bug.
"""

from __future__ import annotations


class MaildrillError(Exception):
    """Root of all expected errors; the message is meant for the user."""


class ConfigError(MaildrillError):
    """A topology or scenario file is wrong: names the file, the line and the field."""

    def __init__(self, file: str, line: int | None, field: str, message: str) -> None:
        self.file, self.line, self.field, self.detail = file, line, field, message
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {field}: {message}" if field else f"{where}: {message}")


class NotRunningError(MaildrillError):
    """The testbed (or one of its services) is not up."""


class AlreadyRunningError(MaildrillError):
    """`up` was asked for while a testbed is already running in this home."""


class UnknownNodeError(MaildrillError):
    """A node or service name that the topology does not have."""


class RemoteError(MaildrillError):
    """An internal RPC answered with an error; `code` is machine-readable, e.g. quota_exceeded."""

    def __init__(self, code: str, message: str = "") -> None:
        self.code = code
        super().__init__(f"{code}: {message}" if message else code)


class ServiceUnavailable(RemoteError):
    """The peer refused the connection, timed out or dropped it (a temporary failure)."""

    def __init__(self, message: str = "") -> None:
        super().__init__("unavailable", message)
