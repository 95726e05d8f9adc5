"""The lab's web hosts: HTTP/3 + HTTPS (Hypercorn/aioquic), Caddy, TCP-only, advertised-
but-not-served and hostile hosts, as argv/config builders. No I/O except where a function
says it writes its config into the run directory.
"""
