"""Intent classifiers on the query embeddings: topic, and the gate (hand-off / off-topic / injection)."""
