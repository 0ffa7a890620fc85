module github.com/wsevents/wsevents/adapters/echo

go 1.26

require (
	github.com/labstack/echo/v4 v4.16.5
	github.com/wsevents/wsevents/core v0.0.0
)

// Test only: the conformance kit, its client, the baseline adapter, goleak.
require (
	github.com/gorilla/websocket v1.5.3
	github.com/wsevents/wsevents/adapters/nethttp v0.0.0
	github.com/wsevents/wsevents/core/wseventstest v0.0.0
	go.uber.org/goleak v1.3.0
)

require (
	github.com/gobwas/httphead v0.1.0 // indirect
	github.com/gobwas/ws v1.5.0 // indirect
	github.com/labstack/gommon v0.5.0 // indirect
	github.com/mattn/go-colorable v0.1.15 // indirect
	github.com/mattn/go-isatty v0.0.22 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	github.com/valyala/fasttemplate v1.2.2 // indirect
	golang.org/x/crypto v0.57.0 // indirect
	golang.org/x/net v0.60.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.42.0 // indirect
	golang.org/x/time v0.15.0 // indirect
)

replace (
	github.com/wsevents/wsevents/adapters/nethttp => ../nethttp
	github.com/wsevents/wsevents/core => ../../core
	github.com/wsevents/wsevents/core/wseventstest => ../../core/wseventstest
)
