"""kopf registrations; `kopf run -m modelops.handlers` loads them all."""

from . import children, indexes, modelversion, nodes, startup, updatepolicy  # noqa: F401
