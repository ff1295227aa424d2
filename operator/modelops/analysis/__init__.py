"""Canary analysis: PromQL checks against Prometheus, and what their results mean."""
