"""Benchmarks of ingest, retrieval and answering (`make bench`, `make bench-scale`).

They print numbers and write bench/results/latest.json; they are not tests and assert nothing.
See bench/README.md for what is measured and how the synthetic corpus copies are made.
"""
