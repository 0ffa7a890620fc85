package wsevents

import (
	"errors"
	"fmt"
)

// Sentinel errors. Compare with errors.Is: they may be wrapped.
var (
	// ErrClosed is returned by operations on a connection or server that has closed.
	ErrClosed = errors.New("wsevents: connection closed")
	// ErrServerClosed is returned by ServeHTTP and emits after Shutdown began.
	ErrServerClosed = errors.New("wsevents: server closed")
	// ErrQueueFull is returned when a message is dropped because the
	// connection's outbound queue is full (SlowConsumerDrop policy).
	ErrQueueFull = errors.New("wsevents: outbound queue full")
	// ErrNativeConnection is returned by Emit and Ask on a connection that did
	// not negotiate the wsevents subprotocol: it can only take native messages.
	ErrNativeConnection = errors.New("wsevents: connection speaks native messages only")
	// ErrNoConnection is returned by To(id).Emit when no connection has that ID
	// and no room has that name.
	ErrNoConnection = errors.New("wsevents: no such connection or room")
	// ErrInvalidEvent is returned for an event name PROTOCOL.md forbids
	// (empty, longer than 256 bytes, or containing control bytes or ';').
	ErrInvalidEvent = errors.New("wsevents: invalid event name")
	// ErrTooManyRooms is returned by Join past Config.MaxRoomsPerConnection.
	ErrTooManyRooms = errors.New("wsevents: too many rooms for one connection")
	// ErrRateLimited is reported (OnError, and as the error reply to an
	// Ask) for events dropped by Config.EventRate.
	ErrRateLimited = errors.New("wsevents: event rate limit exceeded")
	// ErrProtocol wraps every malformed wsevents message (PROTOCOL.md section 2).
	ErrProtocol = errors.New("wsevents: protocol error")
	// ErrOriginRefused is reported when a handshake's Origin is not allowed.
	ErrOriginRefused = errors.New("wsevents: origin not allowed")
	// ErrNoHandler is the error a peer answers with when it has no handler for
	// an asked event.
	ErrNoHandler = errors.New("wsevents: no handler for event")
	// ErrWrongKind is returned by Message.Decode when the payload kind cannot
	// be decoded into the given value.
	ErrWrongKind = errors.New("wsevents: payload kind does not match")
	// ErrBrokerDown is reported (OnBrokerStatus, and by cluster queries)
	// while the node has no working connection to its Broker.
	ErrBrokerDown = errors.New("wsevents: broker unreachable")
	// ErrClusterIncomplete is returned by ClusterRoomLen when some node
	// did not answer: the count it returns then covers the others.
	ErrClusterIncomplete = errors.New("wsevents: not every node answered")
)

// StatusCode is a WebSocket close code (RFC 6455 section 7.4).
type StatusCode int

// Close codes wsevents sends; PROTOCOL.md section 3 says when.
const (
	StatusNormalClosure   StatusCode = 1000
	StatusGoingAway       StatusCode = 1001
	StatusProtocolError   StatusCode = 1002
	StatusUnsupportedData StatusCode = 1003
	StatusNoStatus        StatusCode = 1005 // never sent; reported when a close frame has no code
	StatusAbnormal        StatusCode = 1006 // never sent; reported when TCP ended without a close frame
	StatusInvalidPayload  StatusCode = 1007
	StatusPolicyViolation StatusCode = 1008
	StatusMessageTooBig   StatusCode = 1009
	StatusInternalError   StatusCode = 1011
)

// CloseError is the error a connection ends with when a close frame was sent
// or received. Code is the close code, Reason its text, and Remote tells
// whether the peer closed (true) or this side did (false).
type CloseError struct {
	Code   StatusCode
	Reason string
	Remote bool
}

// Error describes the close: side, code and reason.
func (e *CloseError) Error() string {
	side := "local"
	if e.Remote {
		side = "remote"
	}
	if e.Reason == "" {
		return fmt.Sprintf("wsevents: closed by %s side: %d", side, e.Code)
	}
	return fmt.Sprintf("wsevents: closed by %s side: %d %s", side, e.Code, e.Reason)
}

// CloseStatus returns the close code carried by err (a *CloseError anywhere in
// its chain), or -1 when err is not a close.
func CloseStatus(err error) StatusCode {
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return -1
}

// PanicError is reported to OnError and Config.Logger when a handler panics;
// the connection is then closed with 1011.
type PanicError struct {
	Event string // the event being handled, "" for native messages and lifecycle hooks
	Value any    // what was passed to panic
	Stack []byte
}

// Error names the event and the panic value.
func (e *PanicError) Error() string {
	if e.Event == "" {
		return fmt.Sprintf("wsevents: handler panic: %v", e.Value)
	}
	return fmt.Sprintf("wsevents: handler for %q panicked: %v", e.Event, e.Value)
}

// RemoteError is the error Ask returns when the peer answered with an error
// reply (type x); Message is the peer's text.
type RemoteError struct {
	Event   string
	Message string
}

// Error names the event and the peer's text.
func (e *RemoteError) Error() string {
	return fmt.Sprintf("wsevents: %q answered with an error: %s", e.Event, e.Message)
}

func protocolErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrProtocol}, args...)...)
}

var (
	errNativeType = errors.New("wsevents: EmitMessage takes a string, []byte or Message")
	errNativeUTF8 = errors.New("wsevents: text payload is not valid UTF-8")
	errEmptyJSON  = errors.New("wsevents: empty JSON payload")
)
