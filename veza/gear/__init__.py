"""Gear inventory: items, documents, repairs, warranty."""
