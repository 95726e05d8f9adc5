"""The fault-injection suite (issue 18): kill -9, signals, locks, full disks, damaged files.

Every test here is marked slow and runs in `make test`."""
