"""Errors the CLI reports to the user, each with the exit code scripts can rely on."""

from __future__ import annotations

# Exit codes (documented in docs/cli.md). argparse itself exits 2 on bad usage.
OK = 0
FAILED = 1  # refused, conflicting, rejected by the API server, or a watched rollout failed
USAGE = 2
NOT_FOUND = 3  # unknown model, version or file
UNREACHABLE = 4  # no kubeconfig, or the cluster cannot be reached
FORBIDDEN = 5  # the cluster refused the credentials or the verb (401/403)


class CliError(Exception):
    """Something the user must hear about; `main` prints it as `error: ...` and exits."""

    def __init__(self, message: str, code: int = FAILED, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.hint = hint
