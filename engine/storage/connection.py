"""Connect to PostgreSQL and translate driver errors into claire's, never showing a password."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import TupleRow

from engine.errors import StorageError, StorageUnavailableError

DEFAULT_CONNECT_TIMEOUT = 5
APPLICATION_NAME = "claire"
UNAVAILABLE_HINT = "start claire's servers with `claire up`, or check CLAIRE_DATABASE_URL"
# SQLSTATE classes meaning the server went away rather than refused a statement:
# connection exceptions (08) and operator intervention such as a shutdown (57P).
_CONNECTION_LOST = ("08", "57P")
# psycopg's own words in front of libpq's message.
_DRIVER_PREFIX = re.compile(r"^connection (failed|is bad): ")


def like_literal(text: str) -> str:
    """`text` for a LIKE pattern, its own %, _ and backslash taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def describe_target(conninfo: str) -> str:
    """Return where `conninfo` points, e.g. `PostgreSQL at db.local:5432 (database claire)`."""
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.Error:
        return "PostgreSQL (unreadable connection string)"
    host = str(params.get("host") or params.get("hostaddr") or "localhost")
    port = str(params.get("port") or "5432")
    dbname = params.get("dbname") or params.get("user")
    where = f"PostgreSQL at {host}:{port}"
    return f"{where} (database {dbname})" if dbname else where


def error_message(exc: BaseException, conninfo: str) -> str:
    """Return the first line of a driver error, with any password from `conninfo` masked."""
    text = str(exc).strip()
    first = " ".join(text.splitlines()[0].split()) if text else type(exc).__name__
    first = _DRIVER_PREFIX.sub("", first)
    try:
        password = conninfo_to_dict(conninfo).get("password")
    except psycopg.Error:
        password = None
    if password:
        first = first.replace(str(password), "***")
    return first


def is_connection_lost(exc: psycopg.Error) -> bool:
    """Tell whether `exc` means the server cannot be reached, as opposed to a refused statement."""
    if not isinstance(exc, psycopg.OperationalError):
        return False
    return exc.sqlstate is None or exc.sqlstate.startswith(_CONNECTION_LOST)


def translate_error(exc: psycopg.Error, conninfo: str) -> StorageError | StorageUnavailableError:
    """Return the claire error for a driver error (raise it `from exc`)."""
    message = error_message(exc, conninfo)
    if is_connection_lost(exc):
        return StorageUnavailableError(
            f"lost the connection to {describe_target(conninfo)}: {message}", hint=UNAVAILABLE_HINT
        )
    return StorageError(f"{describe_target(conninfo)} refused an operation: {message}")


def connect(
    conninfo: str,
    *,
    autocommit: bool = False,
    connect_timeout: int = DEFAULT_CONNECT_TIMEOUT,
) -> psycopg.Connection[TupleRow]:
    """Open a connection; raise StorageUnavailableError when the server does not answer.

    `connect_timeout` and the application name apply unless `conninfo` sets them itself.
    """
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.Error:
        # `from None`: the driver's message may quote the string, password included.
        raise StorageError(
            "the database connection string is invalid", hint="check CLAIRE_DATABASE_URL"
        ) from None
    extra: dict[str, str | int] = {}
    if "connect_timeout" not in params:
        extra["connect_timeout"] = connect_timeout
    if "application_name" not in params:
        extra["application_name"] = APPLICATION_NAME
    try:
        return psycopg.connect(make_conninfo(conninfo, **extra), autocommit=autocommit)
    except psycopg.Error as exc:
        if isinstance(exc, psycopg.OperationalError):
            raise StorageUnavailableError(
                f"cannot connect to {describe_target(conninfo)}: {error_message(exc, conninfo)}",
                hint=UNAVAILABLE_HINT,
            ) from exc
        raise translate_error(exc, conninfo) from exc


@contextmanager
def storage_errors(conninfo: str) -> Iterator[None]:
    """Translate driver errors raised in the block into StorageError / StorageUnavailableError."""
    try:
        yield
    except psycopg.Error as exc:
        raise translate_error(exc, conninfo) from exc


class Reconnecting:
    """One connection, opened again when the server went away (PostgreSQL restarted).

    `get()` returns the live connection, or raises StorageUnavailableError while the server
    does not answer; a long-running process asks it each time instead of keeping a dead one.
    """

    def __init__(self, conninfo: str, *, autocommit: bool = True) -> None:
        self._conninfo = conninfo
        self._autocommit = autocommit
        self._conn: psycopg.Connection[TupleRow] | None = None

    def get(self) -> psycopg.Connection[TupleRow]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            if self._conn is not None:
                self._conn.close()
            self._conn = connect(self._conninfo, autocommit=self._autocommit)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
