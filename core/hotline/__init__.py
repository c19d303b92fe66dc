"""The hotline between the parties of an agreement: messages, check calls, call and explanation
requests. Each is its own aggregate so that traffic on one never blocks another."""
