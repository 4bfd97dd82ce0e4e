"""A tenant app with one migration that does nothing: what a deploy with a new migration
costs across every organization's schema (bench/tenants.py)."""
