"""Fragmentation indicators computed from stored observations (planned: issue 9). No I/O."""
