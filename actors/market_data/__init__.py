"""Market data: candle cleaning, feeds (synthetic, file replay) and indicators (ATR, volatility, regime)."""
