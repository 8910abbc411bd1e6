"""The Bitrix24 side: a REST client that speaks the portal's wire protocol, and nothing of business rules."""
