"""The event stream: the outbox delivered, at least once and in order, to configured sinks."""
