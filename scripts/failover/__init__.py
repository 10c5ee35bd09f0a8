"""The failover bench's parts; `scripts/bench_failover.py` is the entry point. Everything else (the fake server, the
market, the signals, the kill moments, the checks, the figures) is the crash test's (`scripts/crash/`).

* `instances`  a service process that is the owner or a standby: SIGKILL or SIGSTOP, when it took over;
* `senders`    which process sent a request to the fake server (its connections, from /proc);
* `fencing`    what an owner paused past its lease did once resumed: transitions and orders after the takeover;
* `bench`      one whole run: rounds of trade, kill (or pause), takeover, check; the figures.
"""
