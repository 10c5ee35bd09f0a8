"""Example strategies on the public interface (actors/signals/strategy.py), installed with the service under the
`quantum_trader.strategies` entry point: `sma_crossover` and `breakout`."""
