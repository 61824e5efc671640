"""Signal Exchange server: ingest, storage, policy and the ``sigx`` command."""
