"""readloom: agentic LLM orchestration for K-12 reading comprehension."""

__version__ = "0.1.0"
