"""Hookyard: receive signed testing-platform webhooks, normalize, route, deliver."""

__version__ = "0.1.0"
