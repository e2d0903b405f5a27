"""Runs: one test run on a platform tracked across its events (see docs/events.md, "Runs").

``model`` holds the vocabulary (which outcomes count as passed or failed, transitions),
``track`` merges each event into its run and enriches the event before it is routed.
"""
