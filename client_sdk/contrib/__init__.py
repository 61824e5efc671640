"""Integrations with other tools: python-threatexchange (``threatexchange``), installed as extras."""
