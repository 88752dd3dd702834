"""cnngrader: grading and self-checks for convolutional-network exercises in Keras."""

__version__ = "0.1.0"
