"""canhbao: monitoring public Vietnamese posts for misinformation and hostile content."""

__all__ = ["__version__"]

__version__ = "0.1.0"
