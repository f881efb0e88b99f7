"""The HTTP layer's section of ``Settings`` (``settings.api``; one ``Settings`` holds
every knob). ``ApiConfig`` is that section's model, kept under its old name."""

from readloom.settings import ApiSection as ApiConfig

__all__ = ["ApiConfig"]
