"""The auditor's tools: verify the signature log online or from an export, and export it."""
