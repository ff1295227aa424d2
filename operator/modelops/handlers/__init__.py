"""kopf registrations; `kopf run -m modelops.handlers` loads them all."""

from . import modelversion, startup  # noqa: F401
