"""Distributed training: torchrun gangs as Indexed Jobs, steps, restarts, evaluation."""
