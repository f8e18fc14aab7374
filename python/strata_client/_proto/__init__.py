"""Stubs generated from proto/coordinator.proto (see python/scripts/generate_stubs.py)."""
