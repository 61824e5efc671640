"""Access policy: the document operators apply, the engine that decides, the quota ledger."""
