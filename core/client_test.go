package wsevents

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestClientHandler(t *testing.T) {
	if !bytes.HasPrefix(ClientSource, []byte("// Code generated")) || !bytes.Contains(ClientSource, []byte("Ws")) {
		t.Fatal("embedded client is not the generated bundle")
	}
	ts := httptest.NewServer(ClientHandler())
	defer ts.Close()
	resp, err := http.Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(body, ClientSource) {
		t.Fatalf("status %d, %d bytes", resp.StatusCode, len(body))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/javascript; charset=utf-8" {
		t.Fatalf("content type %q", ct)
	}
	etag := resp.Header.Get("ETag")
	req, _ := http.NewRequest("GET", ts.URL, nil)
	req.Header.Set("If-None-Match", etag)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if etag == "" || resp.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidation: etag %q, status %d", etag, resp.StatusCode)
	}
}
