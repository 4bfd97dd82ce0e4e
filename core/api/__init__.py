"""The REST API's generic plumbing (no app, no tenant): problem responses, the exception
handler, bounded JSON parsing, pagination, filters, the schema hook. What needs the tenant
(key authentication, scopes, per-key limits, the view bases) lives in `tenants.rest`."""
