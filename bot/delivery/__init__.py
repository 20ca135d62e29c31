"""Delivery: `outbox` (an outgoing message and its delivery state), `notify`
(`Notifier`: queue messages idempotently, by key), `deliverer` (`OutboxDelivery`: send
each message once, in order and paced per conversation, across replicas) and
`settings` (its tuning from the environment).
"""
