"""``make bench``: load and timing benchmarks of the inventory service (entry point: ``bench/run.py``)."""
