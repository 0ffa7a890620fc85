"""Python `websockets` (Debian's python3-websockets) as an independent client:
connects to the wsevents server at argv[1] once per case, sends what the case
needs and prints, as JSON, the close code the library reports for each case.
A case that sees no close within 5 seconds reports 0."""

import asyncio
import json
import sys

import websockets
from websockets.frames import Opcode


async def run(url, send):
    try:
        async with websockets.connect(url, max_size=None, open_timeout=5) as ws:
            await send(ws)
            try:
                await asyncio.wait_for(ws.wait_closed(), 5)
            except asyncio.TimeoutError:
                return 0
            return ws.close_code or 0
    except websockets.ConnectionClosed as e:
        return e.code


async def invalid_utf8(ws):
    # A text frame whose payload is not UTF-8; the library's send() would
    # refuse to build it, so the frame goes out through the protocol layer.
    ws.write_frame_sync(True, Opcode.TEXT, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xed\xa0\x80")


async def oversize(ws):
    await ws.send(b"x" * 4096)


async def protocol_error(ws):
    # A continuation frame with no message to continue.
    ws.write_frame_sync(True, Opcode.CONT, b"no message started")


async def main():
    url = sys.argv[1]
    out = {}
    for name, send in (("utf8", invalid_utf8), ("oversize", oversize), ("protocol", protocol_error)):
        out[name] = await run(url, send)
    print(json.dumps(out))


asyncio.run(main())
