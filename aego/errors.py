"""The one exception the command line turns into a clear message and exit status 2."""


class UsageError(Exception):
    """Bad arguments or unreadable input: the message says what is wrong and how to fix it.

    The command line prints it as one line on stderr and exits with status 2; library code raises
    it (or a subclass) wherever the user, not the program, has to change something.
    """


class SpaceFileError(UsageError):
    """A sound-space file that cannot be loaded (missing, corrupt, foreign, a pickle)."""


class ScoreError(UsageError):
    """An invalid score: the message names the file, the key and what is expected."""
