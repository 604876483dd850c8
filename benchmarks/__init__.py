"""Side-by-side load tests and micro-benchmarks (`make bench`, `make bench-c`)."""
