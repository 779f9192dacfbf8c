"""Durable on-disk storage: the home folder, atomic files, the event log, locks, ids and the request mailbox."""
