"""The shared base below the Django apps: errors, the REST API's generic plumbing, Redis,
encryption and client-address helpers. It imports no app; `core.errors` imports nothing at all,
so the framework-free voice engine may use it too."""
