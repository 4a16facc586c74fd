"""Email: the only package that renders and sends messages (templates + outbox delivery)."""
