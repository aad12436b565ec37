"""mailbot: the email side of a call for proposals."""

__version__ = "0.1.0"
