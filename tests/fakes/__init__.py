"""Reusable fakes for tests: local LLM protocol servers and an in-process provider."""
