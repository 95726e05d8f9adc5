"""What the lab's components share: processes, ports, PKI, the lock, the network, the run
directory, health-check and service records, the truth's error type and the one address
guard (lab.core.guard), and the component protocol (lab.core.component). Importing the
package does no I/O.
"""
