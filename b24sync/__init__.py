"""b24sync: keeps Bitrix24 CRM deals and 1C:Enterprise documents in step."""

__version__ = "0.1.0"
