// Package thirdparty tests the wsevents core against independent WebSocket
// client implementations (gorilla/websocket, coder/websocket) and raw
// sockets. It is a module of its own so that core's go.mod requires
// nothing but gobwas/ws.
package thirdparty
