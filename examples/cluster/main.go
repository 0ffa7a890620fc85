// Command cluster is the chat example on three nodes that share a broker:
// open http://localhost:8081, :8082 and :8083 in three tabs and type. Each
// message reaches the tabs of every node once, as if one server served
// them all.
//
//	go run ./examples/cluster                         # an embedded NATS server
//	go run ./examples/cluster -redis 127.0.0.1:6379   # Redis instead
//	go run ./examples/cluster -nats nats://host:4222  # a NATS server of yours
//
// Each node is a separate wsevents Server with its own listener and its own
// broker connection, as it would be on separate machines; they share only
// the broker.
package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/redis/go-redis/v9"
	wsnats "github.com/wsevents/wsevents/brokers/nats"
	wsredis "github.com/wsevents/wsevents/brokers/redis"
	wsevents "github.com/wsevents/wsevents/core"
)

//go:embed index.html
var page embed.FS

// options say which broker the nodes share: Redis at redisAddr, else NATS
// at natsURL, else an embedded NATS server. prefix keeps clusters that
// share a broker apart.
type options struct {
	redisAddr string
	natsURL   string
	prefix    string
}

// cluster is the running nodes and what they share.
type cluster struct {
	nodes []*wsevents.Server
	https []*http.Server
	nats  *server.Server  // the embedded NATS server, if any
	rdbs  []*redis.Client // one client per node, with Redis
	errc  chan error
}

// newHandler is one node's app: the chat page, the client script and the
// WebSocket route.
func newHandler(name string, ws *wsevents.Server) http.Handler {
	ws.OnConnection(func(c wsevents.Connection) {
		c.Join("chat")
		c.Emit("node", name)
		// A cluster query waits for the other nodes' answers: not in the
		// connection's goroutine.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if n, err := ws.ClusterRoomLen(ctx, "chat"); err == nil {
				c.Emit("chat", fmt.Sprintf("Status: %d in the chat across %d nodes", n, len(ws.ClusterNodes())+1))
			}
		}()
		c.On("chat", func(message string) {
			c.To(wsevents.Broadcast).Emit("chat", message) // everyone else, on every node
			c.Emit("chat", "me: "+message)
		})
	})
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", http.FileServerFS(page))
	mux.Handle("GET /wsevents.js", wsevents.ClientHandler())
	mux.Handle("/chat", ws)
	return mux
}

// startCluster starts one node per listener around the broker opts names.
func startCluster(opts options, lns []net.Listener) (*cluster, error) {
	cl := &cluster{errc: make(chan error, len(lns))}
	if opts.prefix == "" {
		opts.prefix = "wsevents-cluster-example"
	}
	if opts.redisAddr == "" && opts.natsURL == "" {
		ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
		if err != nil {
			return nil, err
		}
		go ns.Start()
		if !ns.ReadyForConnections(5 * time.Second) {
			ns.Shutdown()
			return nil, errors.New("embedded NATS server not ready")
		}
		cl.nats = ns
		opts.natsURL = ns.ClientURL()
	}
	for i, ln := range lns {
		var b wsevents.Broker
		if opts.redisAddr != "" {
			rdb := redis.NewClient(&redis.Options{Addr: opts.redisAddr})
			cl.rdbs = append(cl.rdbs, rdb)
			b = wsredis.New(rdb, wsredis.Options{Prefix: opts.prefix})
		} else {
			nb, err := wsnats.Connect(opts.natsURL, wsnats.Options{Prefix: opts.prefix})
			if err != nil {
				cl.close(context.Background())
				return nil, err
			}
			b = nb
		}
		name := fmt.Sprintf("node %d", i+1)
		ws := wsevents.New(wsevents.Config{Broker: b, NodeID: fmt.Sprintf("node%d", i+1)})
		ws.JoinCluster() // known to the other nodes before its first client
		hs := &http.Server{Handler: newHandler(name, ws), ReadHeaderTimeout: 10 * time.Second}
		cl.nodes = append(cl.nodes, ws)
		cl.https = append(cl.https, hs)
		go func() { cl.errc <- hs.Serve(ln) }()
	}
	return cl, nil
}

// close shuts every node down (clients get 1001), then the broker.
func (cl *cluster) close(ctx context.Context) error {
	var errs []error
	for _, ws := range cl.nodes {
		errs = append(errs, ws.Shutdown(ctx)) // also closes the node's broker
	}
	for _, hs := range cl.https {
		errs = append(errs, hs.Shutdown(ctx))
	}
	for range cl.https {
		if err := <-cl.errc; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	for _, rdb := range cl.rdbs {
		rdb.Close()
	}
	if cl.nats != nil {
		cl.nats.Shutdown()
		cl.nats.WaitForShutdown()
	}
	return errors.Join(errs...)
}

// run serves the cluster until ctx ends.
func run(ctx context.Context, opts options, lns []net.Listener) error {
	cl, err := startCluster(opts, lns)
	if err != nil {
		return err
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-cl.errc:
		cl.errc <- serveErr // close counts every Serve's return
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return errors.Join(serveErr, cl.close(sctx))
}

func main() {
	redisAddr := flag.String("redis", "", "share a Redis at this address instead of NATS")
	natsURL := flag.String("nats", "", "share this NATS server instead of an embedded one")
	ports := flag.String("ports", "8081,8082,8083", "one port per node")
	flag.Parse()
	var lns []net.Listener
	for _, p := range strings.Split(*ports, ",") {
		ln, err := net.Listen("tcp", ":"+strings.TrimSpace(p))
		if err != nil {
			log.Fatal(err)
		}
		log.Printf("node %d: chat on http://localhost:%s", len(lns)+1, strings.TrimSpace(p))
		lns = append(lns, ln)
	}
	switch {
	case *redisAddr != "":
		log.Printf("broker: Redis at %s", *redisAddr)
	case *natsURL != "":
		log.Printf("broker: NATS at %s", *natsURL)
	default:
		log.Printf("broker: embedded NATS server")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, options{redisAddr: *redisAddr, natsURL: *natsURL}, lns); err != nil {
		log.Fatal(err)
	}
}
