"""The testbed's DNS: zone files (zones), the authoritative server of the dns node (server) and
the asyncio client the MTA and the Internet node resolve MX records with (resolver)."""
