"""Data files of the analysis package (the lab's IP-to-ASN mapping). No code."""
