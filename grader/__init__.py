"""Grade PyTorch autograd exercises: sandboxed runs, hidden pytest checks, HTML reports."""

__version__ = "0.1.0"
