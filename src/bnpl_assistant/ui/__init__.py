"""The Gradio page: customer chat, agent desk, dashboard. The only package that imports gradio."""
