"""The 1C side: a client of the platform's standard OData interface and the adapter the sync engine uses."""
