"""A Bitrix24 portal emulator that answers the REST API as a real cloud portal does on the wire."""
