"""The lab: a mini-Internet of real servers in network namespaces, for tests, demo, bench."""
