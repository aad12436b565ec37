"""Validation: the rules of a call (TOML) and the engine that applies them to what was read."""
