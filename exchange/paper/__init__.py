"""The embedded paper exchange: `exchange` (the port, matching from candles), `book` (its orders and their fills),
`account` (wallet and positions), `checks` (an order request's checks), `rules` (pure market rules: filters, triggers,
fill prices, position math) and `state` (the saved account's JSON shape)."""
