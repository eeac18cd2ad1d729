"""An HTTP request flood from one source address (the request_flood fault's load process):
`connections` keep-alive connections from SOURCE, each sending GET PATH as fast as answers come.

    python -m testbed.traffic.flooder SOURCE HOST PORT [CONNECTIONS] [PATH]

Runs until SIGTERM. A connection that fails is retried after a short pause, so the flood goes on
across a webserver restart, as a real attacker's would.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys


async def _one(source: str, host: str, port: int, path: str) -> None:
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: flooder/1.0\r\n\r\n").encode()
    while True:
        try:
            reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0))
            try:
                while True:
                    writer.write(request)
                    await writer.drain()
                    head = await reader.readuntil(b"\r\n\r\n")
                    length = 0
                    for line in head.split(b"\r\n"):
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"content-length":
                            length = int(value.strip() or 0)
                    await reader.readexactly(length)
                    if b"connection: close" in head.lower():
                        break
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            await asyncio.sleep(0.05)


async def flood(source: str, host: str, port: int, connections: int, path: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(_one(source, host, port, path)) for _ in range(connections)]
    await stop.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[3].strip(), file=sys.stderr)
        return 2
    source, host, port = argv[0], argv[1], int(argv[2])
    connections = int(argv[3]) if len(argv) > 3 else 50
    path = argv[4] if len(argv) > 4 else "/"
    asyncio.run(flood(source, host, port, connections, path))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
