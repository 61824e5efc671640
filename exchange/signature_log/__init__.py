"""The signature log: tree building, tile storage and checkpoint signing."""
