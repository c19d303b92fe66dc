"""Agreements: which parties are bound, and the versioned terms (clocks, schedules) they agreed."""
