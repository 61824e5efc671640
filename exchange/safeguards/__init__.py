"""Safeguards for the people signals are about: the charter, warninglists, quarantine, redress, reports."""
