"""The state store: the only place that touches the database."""
