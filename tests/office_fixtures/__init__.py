"""Fixture modules for tests/make_office_fixtures.py: each defines FIXTURES (name → maker)."""
