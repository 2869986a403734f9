"""Runnable example apps; each one is exercised by a test."""
