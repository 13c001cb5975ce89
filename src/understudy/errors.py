"""Errors a user can cause or fix; each message names the fix."""


class UnderstudyError(Exception):
    """Root of every error understudy raises on purpose; printed as one line."""

    exit_code = 1


class UsageError(UnderstudyError):
    """The command was called wrongly (exit code 2)."""

    exit_code = 2


class ConfigError(UnderstudyError):
    """A setting, key or token is missing or wrong."""


class InputError(UnderstudyError):
    """A file, URL or row given by the user cannot be read."""


class SourceError(UnderstudyError):
    """A source (GitLab, GitHub, ...) failed: unreachable, unknown project, no permission."""


class SendError(UnderstudyError):
    """A draft could not be sent to its destination."""


class NotFoundError(UnderstudyError):
    """A record the user named does not exist."""
