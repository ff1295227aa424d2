"""Serving: pure builders of a version's Deployment and Service, and its serving status."""
