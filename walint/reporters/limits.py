"""Shared thresholds of the reporters."""

#: Above this many findings, JSON reports are written compact rather than indented.
LARGE_REPORT = 1000
