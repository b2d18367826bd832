"""安治 anzhi — AI security governance: management and technology across development, deployment, application."""

__version__ = "0.1.0"

__all__ = ["__version__"]
