"""Execution: the exchange port, the embedded paper exchange and (later) the Binance adapter."""
