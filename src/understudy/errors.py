"""Errors a user can cause or fix; each message names the fix."""


class UnderstudyError(Exception):
    """Root of every error understudy raises on purpose; printed as one line.

    The message is cleaned when the error is made: credentials in URLs (a GITLAB_URL or git URL
    with `user:token@`, a `private_token=` parameter) and secrets are redacted, so no log, API
    answer or terminal shows them, whoever raised the error.
    """

    exit_code = 1

    def __init__(self, *args: object) -> None:
        if args and isinstance(args[0], str):
            from .text.masking import redact_message  # text imports errors: import when used

            args = (redact_message(args[0]), *args[1:])
        super().__init__(*args)


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
