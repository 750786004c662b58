"""Support around the assistant: hand-off tickets (``handoffs``) and their webhook outbox (``outbox``),
the conversation log (``convlog``) and the desk that front ends call (``desk``: sessions, rate limits)."""
