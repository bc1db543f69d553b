"""Synthetic feeds that look and misbehave like the real ones."""
