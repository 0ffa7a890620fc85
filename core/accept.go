package wsevents

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"path"
	"reflect"
	"strings"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
)

// ServeHTTP upgrades the request to a WebSocket connection and serves it:
// the request's goroutine becomes the connection's read goroutine, and
// ServeHTTP returns when the connection ends or, on Linux, when it parks
// idle (see the package doc; a client that sends nothing right after the
// handshake makes that happen as soon as OnConnection returns): work to do when a
// connection ends belongs in OnDisconnect, not after ServeHTTP returns. A
// request that is not a valid WebSocket handshake, comes from
// a refused origin or arrives during Shutdown gets an HTTP error through
// Config.Error and no upgrade.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if c := s.upgrade(w, r); c != nil {
		s.serveConn(c)
	}
}

// upgrade validates the handshake and upgrades it, or refuses it through
// Config.Error; it returns the new connection, not yet registered, or nil.
// Nothing of w is used once it returns (the bytes the client sent behind
// its request are copied out), so Serve can reuse its handshake buffers.
func (s *Server) upgrade(w http.ResponseWriter, r *http.Request) *Conn {
	if s.closing.Load() {
		s.refuse(w, r, http.StatusServiceUnavailable, ErrServerClosed)
		return nil
	}
	if status, err := checkHandshake(r); err != nil {
		w.Header().Set("Sec-WebSocket-Version", "13")
		s.refuse(w, r, status, err)
		return nil
	}
	if !s.originAllowed(r) {
		s.refuse(w, r, http.StatusForbidden, ErrOriginRefused)
		return nil
	}

	proto := s.selectSubprotocol(r)
	var (
		ext      wsflate.Parameters
		accepted bool
	)
	up := ws.HTTPUpgrader{
		Timeout: s.cfg.HandshakeTimeout,
		// Headers that middleware set before the upgrade (cookies, CORS)
		// go out with the 101 response.
		Header:   upgradeHeader(w.Header()),
		Protocol: func(p string) bool { return p == proto },
	}
	if s.cfg.EnableCompression {
		up.Negotiate = func(opt httphead.Option) (httphead.Option, error) {
			if accepted {
				return httphead.Option{}, nil
			}
			var offer wsflate.Parameters
			if string(opt.Name) != wsflate.ExtensionName || !offerWellFormed(opt) || offer.Parse(opt) != nil {
				return httphead.Option{}, nil // RFC 7692 section 5: decline, do not fail
			}
			if offer.ServerMaxWindowBits.Defined() && offer.ServerMaxWindowBits != 15 {
				return httphead.Option{}, nil // compress/flate cannot shrink its window
			}
			ext = wsflate.Parameters{
				ServerNoContextTakeover: true,
				ClientNoContextTakeover: offer.ClientNoContextTakeover,
				// RFC 7692 7.1.2.1: accepting the parameter means
				// answering it (15 is the only window offered).
				ServerMaxWindowBits: offer.ServerMaxWindowBits,
			}
			accepted = true
			return ext.Option(), nil
		}
	}
	netConn, brw, _, err := up.Upgrade(r, w)
	if err != nil {
		s.stats.refused.Add(1)
		if netConn != nil {
			netConn.Close()
		}
		s.cfg.Logger.Debug("wsevents: upgrade failed", "remote", r.RemoteAddr, "err", err)
		return nil
	}
	if s.closing.Load() {
		netConn.Write(wsCloseFrame(StatusGoingAway, "server shutting down"))
		netConn.Close()
		return nil
	}

	var pending []byte
	// Bytes the client sent right behind its handshake are already in the
	// HTTP server's buffer: keep them.
	if n := brw.Reader.Buffered(); n > 0 {
		p, _ := brw.Reader.Peek(n)
		pending = append([]byte(nil), p...)
	}
	var in *inflater
	if accepted {
		in = &inflater{takeover: !ext.ClientNoContextTakeover}
	}
	id := s.cfg.IDGenerator(r)
	return s.newConn(netConn, id, retainedRequest(r), proto, in, pending)
}

// handshakeHeaders are the request headers that only the handshake reads.
var handshakeHeaders = [...]string{"Connection", "Upgrade", "Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Extensions"}

// retainedRequest is what a connection keeps of its upgrade request for its
// whole life: a shallow copy whose Header lacks the handshake's own headers
// (they mean nothing once the connection is up) and shares no storage with
// the request the HTTP server parsed, so that storage is freed with it.
func retainedRequest(r *http.Request) *http.Request {
	n, vals := 0, 0
	for k, v := range r.Header {
		if !isHandshakeHeader(k) {
			n++
			vals += len(v)
		}
	}
	h := make(http.Header, n)
	all := make([]string, 0, vals) // one backing array for every value kept
	for k, v := range r.Header {
		if !isHandshakeHeader(k) {
			start := len(all)
			all = append(all, v...)
			h[k] = all[start:len(all):len(all)]
		}
	}
	kept := r.WithContext(retainedContext(r.Context()))
	kept.Header = h
	return kept
}

// retainedContext is what a connection keeps of its upgrade request's
// context: the values. That context is usually net/http's own, a chain of
// two cancelable contexts (the request's and its connection's, both
// cancelled once the handler returns) over two values, some 300 bytes that
// an idle connection would hold for nothing. When it is that chain and
// nothing else (no middleware context on top, no BaseContext or
// ConnContext of the http.Server beneath), the two values are kept alone;
// any other context is kept whole.
func retainedContext(ctx context.Context) context.Context {
	if reflect.TypeOf(ctx) != cancelCtxType {
		return ctx
	}
	srv, _ := ctx.Value(http.ServerContextKey).(*http.Server)
	if srv == nil || srv.BaseContext != nil || srv.ConnContext != nil {
		return ctx
	}
	return &httpValues{srv: srv, laddr: ctx.Value(http.LocalAddrContextKey)}
}

// cancelCtxType is the type of context.WithCancel's contexts, which
// net/http's requests have.
var cancelCtxType = func() reflect.Type {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return reflect.TypeOf(ctx)
}()

// httpValues carries the values of net/http's own request context.
type httpValues struct {
	srv   *http.Server
	laddr any
}

func (*httpValues) Deadline() (time.Time, bool) { return time.Time{}, false }
func (*httpValues) Done() <-chan struct{}       { return nil }
func (*httpValues) Err() error                  { return nil }

func (v *httpValues) Value(key any) any {
	switch key {
	case http.ServerContextKey:
		return v.srv
	case http.LocalAddrContextKey:
		return v.laddr
	}
	return nil
}

func isHandshakeHeader(k string) bool {
	for _, h := range handshakeHeaders {
		if k == h {
			return true
		}
	}
	return false
}

// serveConn registers an upgraded connection, runs OnConnection and
// serves it until it ends.
func (s *Server) serveConn(c *Conn) {
	c.hs = &c.hsOwn
	if err := s.register(c); err != nil {
		s.stats.refused.Add(1)
		s.cfg.Logger.Warn("wsevents: connection refused", "err", err)
		c.netConn.Write(wsCloseFrame(StatusPolicyViolation, "duplicate connection ID"))
		c.closeSocket()
		c.ctx.cancel()
		return
	}
	s.liveAdd()
	s.stats.accepted.Add(1)
	if s.closing.Load() {
		// Shutdown may have snapshotted the connections before this one.
		c.closeAsync(StatusGoingAway, "server shutting down", false)
	}
	c.startKeepalive()

	s.mu.RLock()
	onConn := s.onConn
	s.mu.RUnlock()
	if err := c.connected(onConn); err != nil {
		if c.closeAsync(StatusInternalError, "internal error", true) {
			c.drain()
		}
		c.finish()
		return
	}
	c.serve()
}

// newConn builds a connection on an upgraded socket (either side).
func (s *Server) newConn(netConn net.Conn, id string, r *http.Request, proto string, in *inflater, pending []byte) *Conn {
	c := &Conn{
		srv:       s,
		id:        id,
		req:       r,
		ctx:       connContext{values: r.Context()},
		netConn:   netConn,
		proto:     proto,
		eventMode: proto == Subprotocol,
		deflate:   in != nil,
		inflater:  in,
		rawW:      rawConnOf(netConn),
	}
	c.rd = reader{
		owner:   c,
		timeout: s.cfg.ReadTimeout,
		pending: pending,
		inline:  inlineDispatch && c.rawW != nil,
	}
	c.initSock()
	c.rd.parkAfter = parkDelay(c)
	// A new connection whose client has sent nothing yet parks as soon as
	// OnConnection is done, instead of holding its goroutine for a first
	// parkAfter: a burst of connections (a deploy, a reconnect storm) then
	// costs goroutines only for the handshakes under way, and the runtime
	// never frees a goroutine's descriptor once it exists.
	c.rd.parkNow = c.rd.parkAfter > 0
	return c
}

// startKeepalive puts the connection into its server's keepalive wheel.
func (c *Conn) startKeepalive() {
	if p := c.srv.cfg.PingPeriod; p > 0 {
		c.srv.ka.add(c, p)
	}
}

// connected runs the OnConnection handlers; a panic fails the connection.
func (c *Conn) connected(hs []func(Connection)) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = c.handlerPanic(v)
		}
	}()
	for _, h := range hs {
		h(c)
	}
	return nil
}

func (s *Server) refuse(w http.ResponseWriter, r *http.Request, status int, err error) {
	s.stats.refused.Add(1)
	s.cfg.Error(w, r, status, err)
}

// checkHandshake validates what the upgrader would otherwise answer after
// hijacking, so a plain HTTP request gets an ordinary HTTP error.
func checkHandshake(r *http.Request) (int, error) {
	switch {
	case r.Method != http.MethodGet:
		return http.StatusMethodNotAllowed, errors.New("wsevents: WebSocket handshake must be a GET")
	case !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket"):
		return http.StatusUpgradeRequired, errors.New("wsevents: not a WebSocket handshake")
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		return http.StatusUpgradeRequired, errors.New("wsevents: unsupported WebSocket version (need 13)")
	case r.Header.Get("Sec-WebSocket-Key") == "":
		return http.StatusBadRequest, errors.New("wsevents: missing Sec-WebSocket-Key")
	}
	return 0, nil
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h[http.CanonicalHeaderKey(name)] {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// originAllowed applies CheckOrigin, or the default same-host policy.
func (s *Server) originAllowed(r *http.Request) bool {
	if s.cfg.InsecureSkipOriginCheck {
		return true
	}
	if s.cfg.CheckOrigin != nil {
		return s.cfg.CheckOrigin(r)
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true // not a browser: no ambient credentials to abuse
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, pattern := range s.cfg.OriginPatterns {
		if ok, _ := path.Match(strings.ToLower(pattern), strings.ToLower(u.Host)); ok {
			return true
		}
	}
	return false
}

// selectSubprotocol prefers the event protocol, then the configured ones
// in the server's order.
func (s *Server) selectSubprotocol(r *http.Request) string {
	var offered []string
	for _, v := range r.Header[http.CanonicalHeaderKey("Sec-WebSocket-Protocol")] {
		for _, p := range strings.Split(v, ",") {
			offered = append(offered, strings.TrimSpace(p))
		}
	}
	for _, want := range append([]string{Subprotocol}, s.cfg.Subprotocols...) {
		for _, p := range offered {
			if p == want {
				return p
			}
		}
	}
	return ""
}

// wsCloseFrame builds a close frame for a socket we abandon at once.
func wsCloseFrame(code StatusCode, reason string) []byte {
	p := closePayload(code, reason)
	return append([]byte{finBit | opClose, byte(len(p))}, p...)
}

// offerWellFormed reports whether a permessage-deflate offer has no
// parameter twice and no window size written with a leading zero: RFC 7692
// section 7.1 makes the server decline such offers, and wsflate's parser
// lets both through.
func offerWellFormed(opt httphead.Option) bool {
	var seen [4]bool
	ok := true
	opt.Parameters.ForEach(func(k, v []byte) bool {
		i := -1
		switch string(k) {
		case "server_no_context_takeover":
			i = 0
		case "client_no_context_takeover":
			i = 1
		case "server_max_window_bits":
			i = 2
		case "client_max_window_bits":
			i = 3
		}
		if i >= 0 {
			if seen[i] {
				ok = false
				return false
			}
			seen[i] = true
		}
		if i >= 2 && len(v) > 0 && v[0] == '0' {
			ok = false
			return false
		}
		return true
	})
	return ok
}

// upgradeHeader is what of the response headers set before the upgrade goes
// out with the 101: everything but the headers that describe a response
// body, which a 101 has none of (a gzip middleware's Content-Encoding would
// make clients expect compressed frames).
func upgradeHeader(h http.Header) http.Header {
	body := [...]string{"Content-Encoding", "Content-Length", "Transfer-Encoding", "Content-Type"}
	for _, k := range body {
		if _, ok := h[k]; ok {
			h = h.Clone()
			for _, k := range body {
				delete(h, k)
			}
			break
		}
	}
	return h
}
