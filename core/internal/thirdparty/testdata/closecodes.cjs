// Node's `ws` package as an independent client: connects to the wsevents
// server at argv[2] once per case, sends what the case needs and prints, as
// JSON, the close code the library reports for each case (0 when no close
// arrives within 5 seconds). `ws` comes from jsclient/node_modules (NODE_PATH).
"use strict";
const WebSocket = require("ws");

function run(url, send) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    const timer = setTimeout(() => { ws.terminate(); resolve(0); }, 5000);
    ws.on("open", () => send(ws));
    ws.on("error", () => {});
    ws.on("close", (code) => { clearTimeout(timer); resolve(code); });
  });
}

// A masked client frame built by hand, for what the library will not send.
function rawFrame(b0, payload) {
  const mask = Buffer.from([1, 2, 3, 4]);
  const head = Buffer.from([b0, 0x80 | payload.length]);
  const body = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
  return Buffer.concat([head, mask, body]);
}

const cases = {
  // Text frame of invalid UTF-8: ws sends a Buffer as text without checking it.
  utf8: (ws) => ws.send(Buffer.from([0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xed, 0xa0, 0x80]), { binary: false }),
  oversize: (ws) => ws.send(Buffer.alloc(4096, 120)),
  // Reserved opcode 0x3, written on the socket under the library.
  protocol: (ws) => ws._socket.write(rawFrame(0x83, [...Buffer.from("reserved opcode")])),
};

(async () => {
  const out = {};
  for (const [name, send] of Object.entries(cases)) out[name] = await run(process.argv[2], send);
  console.log(JSON.stringify(out));
})();
