"""The crash test's parts; `scripts/crash_test.py` is the entry point and tells the whole story.

* `scenario`  what every part shares: the fake account, the symbols, the position states, the pacing;
* `process`   the service as a real process: its configuration, its log, SIGKILL;
* `market`    the fake Binance server and the seeded price path pushed into it;
* `database`  the service's database (SQLite or PostgreSQL), read only;
* `pacing`    waiting for the service: ready, policy cycles, candle steps;
* `signals`   the signal inbox the service reads;
* `tally`     what the run has counted and found so far;
* `kills`     when and how each SIGKILL happens, and the trading in between;
* `checks`    what is checked after each recovery, and the findings;
* `runner`    one whole run: rounds of trade, kill, restart, check; the figures.
"""
