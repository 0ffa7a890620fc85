module github.com/wsevents/wsevents/soak

go 1.26

require (
	github.com/gorilla/websocket v1.5.3
	github.com/wsevents/wsevents/core v0.0.0
)

require (
	github.com/gobwas/httphead v0.1.0 // indirect
	github.com/gobwas/ws v1.5.0 // indirect
)

replace github.com/wsevents/wsevents/core => ../core
