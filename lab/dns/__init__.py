"""The lab's DNS component: the zone world (ICANN-like, OpenNIC-like and Handshake-like
roots), NSD and Knot authoritative servers, DNSSEC signing with BIND's tools, validating,
plain and manipulating Unbound resolvers (UDP, TCP, DoT, DoH) and a DoQ forwarder (RFC 9250).
Importing the package does no I/O.

schema (the truth's dns section), render (zones and configurations from templates/),
dnssec (signing), services (Service records), health (DNS checks), doq (the DoQ server),
component (writes and signs the zones, derives the DS of Knot's zones between phases).
"""
