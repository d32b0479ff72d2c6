"""Notebook execution tests (nbval) for every lesson."""
