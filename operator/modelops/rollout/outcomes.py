"""How a rollout can end (history `outcome`, and the phases named the same)."""

ROLLED_BACK, ABORTED, PROMOTED = "RolledBack", "Aborted", "Promoted"
