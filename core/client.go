package wsevents

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"time"
)

// ClientSource is the browser client: a <script> bundle that defines the
// global Ws (the classic API: new Ws(url), OnConnect, On, Emit, ...) and
// wsevents (connect, the modern API). It is generated from jsclient/src by
// jsclient's build and embedded here; `make test` fails when it is stale.
//
//go:embed clientjs/wsevents.js
var ClientSource []byte

var clientETag = func() string {
	sum := sha256.Sum256(ClientSource)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}()

// ClientHandler serves ClientSource as JavaScript, with an ETag so browsers
// revalidate instead of downloading it again:
//
//	http.Handle("/wsevents.js", wsevents.ClientHandler())
func ClientHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/javascript; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", clientETag)
		http.ServeContent(w, r, "wsevents.js", time.Time{}, bytes.NewReader(ClientSource))
	})
}
