"""Delivery: `notify` (`Notifier`: queue messages idempotently, by key), `deliverer`
(`OutboxDelivery`: send each message once, in order and paced per conversation, across
replicas), `admin` (`OutboxAdmin`: what is queued, sent and failed; retries), `inbound`
(`InboundDedupe`: each inbound event handled once) and `settings` (tuning from the
environment). The outbox's records live with its port, `bot.ports.delivery`.
"""
