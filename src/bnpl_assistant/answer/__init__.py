"""Writing the reply: the offline extractive composer, the OpenAI model adapter, and fixed reply lines."""
