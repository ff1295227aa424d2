"""kopf registrations; `kopf run -m modelops.handlers` loads them all."""

from . import children, indexes, modelversion, nodes, routes, startup, updatepolicy  # noqa: F401
