"""REST endpoints of the voice app: agents, webhook tools, provider credentials."""
