"""Domain services: they take a Store and a clock and raise only ExchangeError."""
