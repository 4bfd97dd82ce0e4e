"""REST API plumbing that needs the tenant: secret-key authentication with scopes, per-key rate
limits, and the view bases that run a request in the key's organization's schema."""
