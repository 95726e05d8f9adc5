"""fragscope's probes: async measurements whose network failures become data.

Importing this package does no I/O. Probe modules register themselves on import (see
probes.registry); probes import db (for the vocabularies and tables), never analysis,
reports or lab.
"""
