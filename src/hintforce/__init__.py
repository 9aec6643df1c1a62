"""hintforce: sparse-sample full-FORCE RNNs against a gain-modulated SOC ground truth."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hintforce")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0+unknown"
