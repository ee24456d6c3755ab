"""Framework integrations: each a thin edge over the one WSGI core (``sentiero.web``)."""
