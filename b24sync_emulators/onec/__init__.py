"""A 1C:Enterprise base emulator that serves the platform's standard OData interface."""
