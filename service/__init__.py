"""The command line (`quantum-trader ...`) and the service runner."""
