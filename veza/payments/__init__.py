"""Payments: the gateway interface and its implementations (sandbox, Hyperswitch), webhooks."""
