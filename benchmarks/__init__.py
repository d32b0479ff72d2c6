"""Benchmarks of Conv2D Clinic: `make bench` runs them and writes the numbers here."""
