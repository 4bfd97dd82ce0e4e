"""Plumbing shared by every REST endpoint under /api/v1/: secret-key authentication with
scopes, the tenant's schema for exactly one request, problem responses, pagination, limits."""
