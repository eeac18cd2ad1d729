"""The load balancers (Alteon 184a/184b active/standby, cold backup 180e): the service VIP.

server.py runs one unit (VIP ownership, RPC on lb_ctl), proxy.py the data path, health.py the
back-end checks, config.py the prepared configuration (alteon.cfg, `provision_lb`), state.py who
holds the VIP (<home>/lb/state.json), commands.py the node command /opt/alteon/bin/alteon.
"""
