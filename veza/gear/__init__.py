"""Gear inventory: items with their warranty, repairs, and documents."""
