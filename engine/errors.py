"""One exception tree for the engine and the CLI.

The class says whether retrying can help (`TransientError`) or not (`PermanentError`);
the docstring is the default message. Adapters translate driver errors into these
(`raise StorageUnavailableError(...) from exc`).
"""

from __future__ import annotations


class ClaireError(Exception):
    """Something went wrong in claire."""

    hint: str | None = None

    def __init__(self, message: str | None = None, *, hint: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or type(self).__name__).strip())
        if hint is not None:
            self.hint = hint

    @property
    def message(self) -> str:
        return str(self.args[0])


class PermanentError(ClaireError):
    """A problem that retrying will not fix."""


class TransientError(ClaireError):
    """A problem that may go away if retried (a server restarting, a network blip)."""


class ConfigurationError(PermanentError):
    """The settings are invalid."""

    def __init__(self, findings: list[object], message: str | None = None) -> None:
        self.findings = findings
        lines = [str(f) for f in findings]
        super().__init__(
            message or "invalid settings:\n" + "\n".join(f"  {line}" for line in lines),
            hint="run `claire env check` to see every problem",
        )


class EventDecodeError(PermanentError):
    """An event could not be decoded."""

    def __init__(self, problems: list[str], raw: object = None) -> None:
        self.problems = problems
        self.raw = raw
        super().__init__("invalid event: " + "; ".join(problems))


class MissingBinaryError(PermanentError):
    """A program claire needs is not installed."""

    def __init__(self, binary: str, package: str) -> None:
        self.binary = binary
        self.package = package
        super().__init__(
            f"`{binary}` is not installed",
            hint=f"install the Debian/Ubuntu package `{package}` (apt-get install {package}), "
            "or point claire at existing servers with CLAIRE_DATABASE_URL / CLAIRE_REDIS_URL",
        )


class RuntimeStartError(PermanentError):
    """A server of the local runtime did not start."""


class ServiceUnavailableError(TransientError):
    """A server claire needs does not answer."""


class StorageError(PermanentError):
    """The database refused an operation."""


class StorageUnavailableError(TransientError):
    """The database does not answer."""


class BusUnavailableError(TransientError):
    """Redis does not answer."""


class MigrationError(PermanentError):
    """A database migration failed."""


class DockerUnavailableError(TransientError):
    """The Docker Engine does not answer."""


class DockerError(PermanentError):
    """The Docker Engine refused an operation."""


class ListenError(PermanentError):
    """A server of claire's cannot listen on its address and port."""
