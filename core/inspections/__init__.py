"""Verification visits — inspections, evaluation visits, overflights — with their quotas and treaty
clocks, and the notifications parties owe each other (military activities, reported units)."""
