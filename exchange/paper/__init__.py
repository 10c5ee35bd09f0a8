"""The embedded paper exchange: `exchange` (the port, matching from candles), `rules` (pure market rules: filters,
triggers, fill prices, position math) and `state` (the saved account's JSON shape)."""
