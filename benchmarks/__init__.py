"""Side-by-side timings of minidl against PyTorch and a hand-written torch loop, and the seeds'
experiments reproduced. Run ``python -m benchmarks`` for the table (``--help`` for options) and
``python -m benchmarks.seed000`` / ``seed002`` / ``seed004`` for the experiments.

Not part of the test run: ``tests/test_benchmarks.py`` only checks that every entry point works in
its ``--quick`` mode.
"""
