"""Notifications to the operator's channels (Apprise), sent off the trading threads."""
