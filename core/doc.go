// Package wsevents is real-time events over WebSocket for any Go web
// framework: named events, native messages, broadcast, rooms and
// request–response, on a low-allocation engine built on gobwas/ws.
//
// A Server is an http.Handler. Register what each connection does in
// OnConnection and mount the server on a route:
//
//	ws := wsevents.New(wsevents.Config{})
//	ws.OnConnection(func(c wsevents.Connection) {
//		c.On("chat", func(msg string) {
//			c.To(wsevents.Broadcast).Emit("chat", msg) // everyone but c
//		})
//	})
//	http.Handle("/chat", ws)
//	http.Handle("/wsevents.js", wsevents.ClientHandler()) // the browser client
//
// A Server can also take a listener of its own, with no HTTP server in
// front: ws.ListenAndServe(":8081") or ws.Serve(ln) (a tls.Listener too)
// serve every request on it as a WebSocket handshake. That is the leanest
// path (the request keeps no net/http context chain) for a port given to
// WebSocket alone; it bounds the whole handshake with
// Config.HandshakeTimeout and answers non-WebSocket requests through
// Config.Error. Shutdown closes such listeners.
//
// Adapters for Gin, Echo and Iris live in their own modules
// (github.com/wsevents/wsevents/adapters/...); the wire format is
// PROTOCOL.md at the repository root. The zero Config is safe: same-host
// origin check, a 1 MiB message limit, keepalive, write timeouts and
// bounded per-connection queues; see Config for each default and why.
//
// # Engine
//
// Each connection has one read goroutine, which holds no read buffer while
// the connection is idle on Unix. On Linux an idle connection gives up that
// goroutine too: its socket waits in a process-wide epoll set and the next
// byte, its close or a failed write starts a new one. A connection parks
// so once it has been idle for a second, and a new one at once if its
// client has sent nothing when OnConnection returns, so a burst of new
// connections costs goroutines only for the handshakes under way
// (WSEVENTS_EPOLL=0 in the environment turns parking off). While a
// connection is busy on Linux, its complete single-frame messages are
// dispatched as they are read, and a read that drained the socket is
// followed by the wait for more, not by a read that would find nothing: one
// read system call per burst of messages, where a read loop takes two.
// Keepalive runs
// on one goroutine per Server, not a timer per connection, and a
// connection keeps of its upgrade request all but the handshake's own
// headers, and of net/http's own request context only its values; its
// Context costs nothing until something waits on it. Handlers of a
// connection run on its read goroutine, in order; a handler that blocks
// holds up only its own connection. Emits never block: a message is encoded once, however many
// connections it goes to, and queued on each; a few shared writer
// goroutines write every ready queue in one vectored non-blocking write, and
// only a socket that is backed up gets a writer of its own. On Linux
// (amd64, arm64) a writer that finds many connections ready, as after a
// broadcast, submits their sends to an io_uring together: one system call
// for up to 1,024 sockets instead of one each. Where io_uring is missing
// or refused (containers often refuse it) every connection gets its own
// write (WSEVENTS_URING=0 in the environment turns batching off). A full queue
// applies Config.SlowConsumer. A handler panic closes its connection with
// 1011 and the server keeps serving.
//
// # Scale-out
//
// Several Servers become one cluster when each gets a Broker in
// Config.Broker (modules brokers/nats and brokers/redis; MemoryBroker
// within one process): broadcasts, room emits and emits to a connection ID
// reach the clients of every node, Server.Ask asks a connection wherever
// it is, and Server.ClusterRoomLen counts a room across nodes. Each node
// holds one broker connection and one subscription per room that has
// local members; emits never wait for the broker. broker.go describes what
// crosses and the README's "Scale-out" section what is guaranteed.
package wsevents
