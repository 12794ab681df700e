"""Webhooks to consumers: where they may go (``destinations``) and how they are sent."""
