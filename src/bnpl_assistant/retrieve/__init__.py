"""Retrieval: dense (Chroma) + lexical (BM25), fused by reciprocal rank and aggregated to topics."""
