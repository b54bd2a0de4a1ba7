"""Every error prelabel raises on purpose, under one root.

    PrelabelError                  root; exit code 1 when nothing more specific applies
    ├── InputError                 a bad input file, object or value           exit 3
    │   ├── ConfigError            the task config breaks a rule (field path + rule)
    │   ├── UnknownFormatError     no reader of that name
    │   └── InvalidAnnotationError one object of an input file is unusable
    ├── LimitViolation             a geometry breaks a task limit under
    │                              on_violation = "error", or `validate` found some   exit 4
    ├── PayloadError               the model cannot be written as the target task body exit 3
    ├── EnvironmentFailure         a path not writable, a full disk                    exit 6
    └── SubmitError                a request to Scale (or the sandbox) failed          exit 5
        ├── SubmitTransportError   connection refused, reset, timed out
        └── SubmitRejectedError    an HTTP error status, with Scale's own message
            (status-specific leaves live in prelabel.scale.errors)

Every error carries `path` (the file), `location` (line, object or field path) and `reason`,
and renders as one line: ``path, location: reason``. The CLI turns each class into its exit
code in one place (``prelabel.cli.main``); library code never prints or exits.

An API key must never reach an error message: errors built from HTTP failures are scrubbed
by ``prelabel.scale`` before they are raised.
"""

from __future__ import annotations

import os
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")


def _rebuild(cls: type[PrelabelError], state: dict[str, Any]) -> PrelabelError:
    """Unpickle an error: its attributes as they were, whatever its ``__init__`` takes."""
    error = cls.__new__(cls)
    error.__dict__.update(state)
    Exception.__init__(error, error.message)
    return error


class PrelabelError(Exception):
    """Root of every error prelabel raises on purpose."""

    exit_code = 1

    def __init__(
        self,
        reason: str,
        *,
        path: str | os.PathLike[str] | None = None,
        location: str | None = None,
    ) -> None:
        self.reason = reason
        self.path = os.fspath(path) if path is not None else None
        self.location = location
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """The one-line text a user sees: ``path, location: reason``."""
        where = ", ".join(p for p in (self.path, self.location) if p)
        return f"{where}: {self.reason}" if where else self.reason

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # errors cross process boundaries (prelabel convert --workers): pickle the attributes
        return (_rebuild, (type(self), dict(self.__dict__)))


class InputError(PrelabelError):
    """A bad input file, object or value."""

    exit_code = 3


class ConfigError(InputError):
    """The task config breaks a rule; location is the field path, ``rule`` the rule book's id
    (``prelabel.config.rules.RULES``) when the broken rule is one of Scale's."""

    def __init__(
        self,
        reason: str,
        *,
        path: str | os.PathLike[str] | None = None,
        location: str | None = None,
        rule: str | None = None,
    ) -> None:
        self.rule = rule
        super().__init__(reason, path=path, location=location)


class UnknownFormatError(InputError):
    """No reader or target of that name."""

    def __init__(self, name: str, *, choices: list[str], kind: str = "format") -> None:
        self.name = name
        self.choices = choices
        super().__init__(f"unknown {kind} {name!r}; choose one of: {', '.join(choices)}")


class InvalidAnnotationError(InputError):
    """One object of an input file cannot be turned into the model."""


class LimitViolation(PrelabelError):
    """A geometry breaks a task limit and the policy says stop."""

    exit_code = 4


class PayloadError(PrelabelError):
    """The model cannot be expressed as the target task body."""

    exit_code = 3


class EnvironmentFailure(PrelabelError):
    """The machine refused: a path that cannot be created or written, a full disk."""

    exit_code = 6


def pool_result(future: Future[T]) -> T:
    """The result of a job sent to a worker process pool (``--workers N``); a worker that
    died (killed, out of memory) is the environment's failure."""
    try:
        return future.result()
    except BrokenProcessPool:
        raise EnvironmentFailure(
            "a worker process died (killed, or out of memory?); "
            "rerun with fewer --workers or with --workers 1"
        ) from None


class SubmitError(PrelabelError):
    """A request to Scale (or the sandbox) failed."""

    exit_code = 5


class SubmitTransportError(SubmitError):
    """The request never got an HTTP answer: refused, reset or timed out."""


class SubmitRejectedError(SubmitError):
    """The server answered with an error status; carries Scale's own message."""

    def __init__(
        self,
        reason: str,
        *,
        status: int,
        path: str | None = None,
        location: str | None = None,
    ) -> None:
        self.status = status
        super().__init__(reason, path=path, location=location)
