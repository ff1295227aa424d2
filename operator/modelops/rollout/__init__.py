"""Canary rollouts: replica math, the target version, and the step state machine."""
