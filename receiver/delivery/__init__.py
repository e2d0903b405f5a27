"""Delivery: the dispatcher and its pure helpers (retry policy, rate limits, breaker)."""
