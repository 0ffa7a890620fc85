package main

import (
	"io"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/kataras/iris/v12"
	"github.com/labstack/echo/v4"
	wsecho "github.com/wsevents/wsevents/adapters/echo"
	wsgin "github.com/wsevents/wsevents/adapters/gin"
	wsiris "github.com/wsevents/wsevents/adapters/iris"
)

// The wsevents servers of wsevents.go on each framework's router, mounted
// as the adapters' READMEs show, with the framework's bare router (no
// logger or recovery middleware: the net/http server has none either).
// The framework is the http.Server's handler; the benchserver's /debug/
// routes go through its wrapper of an http.Handler.

func wseventsGin(debug http.Handler) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	gin.DefaultWriter = io.Discard
	ws := newWseventsServers()
	r := gin.New()
	r.GET("/echo", wsgin.Handler(ws.echo))
	r.GET("/bcast", wsgin.Handler(ws.bcast))
	r.GET("/events", wsgin.Handler(ws.events))
	r.GET("/rooms/:room", wsgin.Handler(ws.rooms))
	r.GET("/debug/*any", gin.WrapH(debug))
	return r
}

func wseventsEcho(debug http.Handler) http.Handler {
	ws := newWseventsServers()
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/echo", wsecho.Handler(ws.echo))
	e.GET("/bcast", wsecho.Handler(ws.bcast))
	e.GET("/events", wsecho.Handler(ws.events))
	e.GET("/rooms/:room", wsecho.Handler(ws.rooms))
	e.GET("/debug/*", echo.WrapHandler(debug))
	return e
}

func wseventsIris(debug http.Handler) http.Handler {
	ws := newWseventsServers()
	app := iris.New()
	app.Logger().SetLevel("disable")
	app.Get("/echo", wsiris.Handler(ws.echo))
	app.Get("/bcast", wsiris.Handler(ws.bcast))
	app.Get("/events", wsiris.Handler(ws.events))
	app.Get("/rooms/{room}", wsiris.Handler(ws.rooms))
	app.Get("/debug/{p:path}", iris.FromStd(debug))
	if err := app.Build(); err != nil {
		panic(err)
	}
	return app
}
