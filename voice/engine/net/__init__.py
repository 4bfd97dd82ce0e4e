"""Outbound HTTP to the addresses an organization chose, kept off private networks."""
