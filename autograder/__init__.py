"""The grading engine of the CNN exercise kit: hidden suite, Keras oracle, sandbox and CLI."""

__version__ = "0.1.0"
