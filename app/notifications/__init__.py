"""Notifications: an e-mail outbox written in the same transaction as the event, sent
by a sweep after commit, so a rolled-back event never sends mail and a crash never
loses one."""
