"""Comms: the outbox derived from the journal, delivery to the command channel's targets
(webhooks, email), retries and dead letters. Never blocks the screen or an action."""
