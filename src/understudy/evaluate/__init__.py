"""Measuring answer quality: metrics, benchmark loaders, backtests."""
