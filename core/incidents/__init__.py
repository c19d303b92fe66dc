"""Incidents: each involved party's own account of one event, and the lifecycle around them."""
