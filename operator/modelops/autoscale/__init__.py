"""Autoscaling: the scaler object an UpdatePolicy with spec.autoscaling owns."""
