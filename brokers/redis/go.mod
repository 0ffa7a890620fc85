module github.com/wsevents/wsevents/brokers/redis

go 1.26

replace github.com/wsevents/wsevents/core => ../../core

require (
	github.com/redis/go-redis/v9 v9.23.0
	github.com/wsevents/wsevents/core v0.0.0
	github.com/wsevents/wsevents/core/wseventstest v0.0.0
	go.uber.org/goleak v1.3.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/gobwas/httphead v0.1.0 // indirect
	github.com/gobwas/ws v1.5.0 // indirect
	github.com/gorilla/websocket v1.5.3 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
)

replace github.com/wsevents/wsevents/core/wseventstest => ../../core/wseventstest
