"""The Binance USD-M futures adapter, one module per seam; none imports a module that imports it back.

* `endpoints`: the REST and WebSocket roots (mainnet, testnet, a configured override).
* `rest`: the signed REST calls of one account and the mapping of their failures to the port's errors.
* `payloads`: pure reading of REST answers into the port's types, and the readers the streams share.
* `user_events`, `market_events`: pure reading of the streams' messages into dataclasses (and the port's types).
* `websocket`: one reconnecting WebSocket connection on its own thread, used by both streams: it skips and counts
  unreadable frames, backs off, and says whether the stream is healthy.
* `translator`: the user-data stream's events into the port's events, with what the stream alone cannot say.
* `user_stream`: the user-data stream's connection: listen key, keepalive, reconnects and the resync after a gap.
* `resync`: after a gap in the user-data stream, what it missed, read through REST.
* `orders`: placing, canceling and reading back orders, regular and conditional, with the grace after a lost outcome.
* `account`: `BinanceExchange`, the exchange port, on top of the above: its start, the account's reads, health.
* `market_stream`: `BinanceKlineFeed`, closed klines and mark prices after a REST warm-up.
"""
