"""What can go wrong, as the ``placement`` command reports it to a scheduler.

``InputError`` marks a problem the user can fix (a missing folder, an unknown university, a bad
date or policy file): the command prints one line and exits ``EXIT_INPUT``. Anything else that
escapes is a bug or an environment failure: its traceback goes to the log and the command exits
``EXIT_CRASH``, so a scheduler never mistakes a crash for a partial success (``EXIT_FAILED``).
"""

from __future__ import annotations

EXIT_OK = 0  # every report rendered, privacy scan clean (or nothing new with --only-if-new)
EXIT_FAILED = 1  # published, but some report, the workbook or the privacy scan failed
EXIT_INPUT = 2  # usage error or bad input: nothing was done
EXIT_PRIVACY = 3  # the privacy scan found personal data: nothing was published
EXIT_LOCKED = 4  # another run of the same period is in progress: nothing was done
EXIT_CRASH = 70  # unexpected error (sysexits EX_SOFTWARE); traceback in the log


class InputError(Exception):
    """A problem with what the user gave us, with a message that says how to fix it."""


class MissingInputError(InputError, FileNotFoundError):
    """An input folder or file the command needs does not exist."""


class InvalidInputError(InputError, ValueError):
    """An input exists but cannot be used (bad date, unknown university, invalid policy file)."""
