"""One error hierarchy. Each error carries the exit code the CLI turns it into."""

from __future__ import annotations

#: Exit codes of ``sc`` (named, like dramatiq's RET_* constants).
EXIT_OK = 0  # success
EXIT_CHECK_FAILED = 1  # a check found problems (validate, --check, failed job)
EXIT_BAD_INPUT = 2  # the user's input was refused; nothing was written
EXIT_STORE_UNREACHABLE = 3  # the database could not be reached in time
EXIT_NOT_FOUND = 4  # the job, dataset or file named does not exist
EXIT_CONFLICT = 5  # the write conflicts with the current state (duplicate, wrong status)
EXIT_INTERNAL = 70  # a bug: an unexpected exception (EX_SOFTWARE)


class ScError(Exception):
    """Base of every error sccli raises on purpose.

    ``permanent`` says whether a job attempt that failed with this error would fail the same
    way again (a refusal: bad parameters, a path outside the data directories, a corrupt or
    hostile archive, a missing tool). The service fails such a job at once, with error kind
    ``permanent`` and no retry; every other error (a tool's failure, the network, the store, a
    timeout, a lost worker) is retried with backoff.
    """

    exit_code = EXIT_CHECK_FAILED
    permanent = False


class InvalidInput(ScError, ValueError):
    """Input was refused: unknown type, malformed UUID, bad priority, bad settings..."""

    exit_code = EXIT_BAD_INPUT
    permanent = True


class StoreUnavailable(ScError):
    """The store could not be reached or stayed locked past its timeout."""

    exit_code = EXIT_STORE_UNREACHABLE


class NotFound(ScError, LookupError):
    """A job, dataset, migration or file does not exist."""

    exit_code = EXIT_NOT_FOUND


class Conflict(ScError):
    """The operation conflicts with current state (duplicate active job, wrong status, lost lease)."""

    exit_code = EXIT_CONFLICT


class CheckFailed(ScError):
    """A check ran and found problems."""

    exit_code = EXIT_CHECK_FAILED


class MissingExtra(ScError):
    """An optional dependency is not installed; the message names the extra to install."""

    exit_code = EXIT_BAD_INPUT
    permanent = True


class PermanentError(ScError):
    """A job attempt failed in a way that will not pass by itself: no retry (plugins raise it)."""

    permanent = True


class TransientError(ScError):
    """A job attempt failed in a way that may pass (a tool, the network): retried with backoff."""

    permanent = False


def is_permanent(error: BaseException) -> bool:
    """True when ``error`` would fail the same way on every attempt (see :class:`ScError`)."""
    return bool(getattr(error, "permanent", False)) and isinstance(error, ScError)
