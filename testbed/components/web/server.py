"""The webserver ("httpd", kind "web"): WebMail on ports.http and a status page on ports.http_admin.

One process serves both ports, like one apache with two virtual hosts. It runs twisted.web on the
asyncio reactor so the asyncio UAS and MAPIc clients share its loop. The UAS servers come from the
node's own /opt/aimc/aimc.ini, read at start like the real aimc; pages come from
/opt/aimc/webroot/, read per request.
"""

from __future__ import annotations

from typing import Any

from testbed.runtime.context import ServiceContext


def submission_endpoint(ctx: ServiceContext) -> tuple[str, int]:
    from testbed.topology.endpoints import client_endpoints

    host, port = client_endpoints(ctx.topology)["submission"].rsplit(":", 1)
    return host, int(port)


def main(ctx: ServiceContext) -> None:
    from testbed.components.twisted_glue import real_clients
    from testbed.components.web.webmail import WebMail
    from testbed.runtime.serve import install_asyncio_reactor

    install_asyncio_reactor()
    from twisted.internet import reactor as installed

    from testbed.components.web.resources import build_sites

    reactor: Any = installed  # the module attribute is typed loosely by twisted
    uas, mapi = real_clients(ctx)
    app = WebMail(
        ctx.root / "opt" / "aimc" / "webroot",
        uas,
        mapi,
        lambda: submission_endpoint(ctx),
        ctx.node.name,
        ctx.service.port,
        shared_sessions=ctx.home.root / "web" / "sessions",
    )
    webmail, admin = build_sites(ctx, app)
    admin_port = ctx.topology.spec.ports.http_admin
    reactor.listenTCP(ctx.service.port, webmail, interface=ctx.address)
    reactor.listenTCP(admin_port, admin, interface=ctx.address)
    ctx.log.info(
        "listening on %s:%d (webmail), :%d (admin)", ctx.address, ctx.service.port, admin_port
    )
    reactor.run()
    ctx.log.info("stopped")
