"""Gear inventory: items with their warranty, repairs, documents, and the warranty notifier."""
