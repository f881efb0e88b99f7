"""readloom: agentic LLM orchestration for K-12 reading comprehension."""

from readloom import lean_imports

lean_imports.install()

__version__ = "0.1.0"
