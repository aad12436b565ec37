"""Intake: parse a received message, decide whether to answer it, take out its attachments."""

from mailbot.intake.classify import classify
from mailbot.intake.extract import ExtractLimits, extract_attachments
from mailbot.intake.mime import parse_message

__all__ = ["ExtractLimits", "classify", "extract_attachments", "parse_message"]
