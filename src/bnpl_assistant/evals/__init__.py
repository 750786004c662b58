"""The offline evaluation harness: datasets in, results.jsonl + metrics.json + a report out."""
