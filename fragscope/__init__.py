"""fragscope: measure whether the Internet's naming and transport architecture is fragmenting.

The one installed package. Its subpackages live at the repository's root (probes/,
analysis/, reports/, db/, lab/, campaigns/ and cli.py) and are linked here, so that the
only top-level import name fragscope installs is ``fragscope``: ``fragscope.probes``,
``fragscope.analysis``, ``fragscope.reports``, ``fragscope.db``, ``fragscope.lab``,
``fragscope.campaigns`` and ``fragscope.cli``. No I/O at import.
"""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("fragscope")
except metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
