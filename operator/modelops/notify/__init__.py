"""Webhook notifications: a per-policy outbox in status (outbox), payloads (payload), and the
sender that delivers them without blocking a reconcile (sender)."""
