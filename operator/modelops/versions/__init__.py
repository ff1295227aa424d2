"""The life of a ModelVersion: validation, the reconcile plan, and its status."""
