package conformance

import (
	"bufio"
	"bytes"
	"compress/flate"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// maxMessage is the echo server's -max-message-size: 16 MiB, the largest
// message group 9 sends.
const maxMessage = 16 << 20

// defaultOffer is what a browser offers.
const defaultOffer = "permessage-deflate; client_max_window_bits"

// modeSet says which server modes a case runs against.
type modeSet int

const (
	bothModes modeSet = iota
	onOnly            // the server negotiates permessage-deflate
	offOnly
)

// negExpect says how the permessage-deflate negotiation is judged against
// the server with compression on (with it off, every offer must be
// declined).
type negExpect int

const (
	negAccept  negExpect = iota // a valid offer the server must accept
	negMay                      // accepting or declining are both right
	negDecline                  // an offer the server MUST decline (RFC 7692 7.1)
)

// tcase is one conformance case.
type tcase struct {
	id      string // Autobahn-style number, "6.4.1"
	desc    string
	modes   modeSet
	noOffer bool   // offer no extension at all
	offer   string // extension offer; "" means defaultOffer
	neg     negExpect
	// level is the client's deflate level, as flate.* + levelShift so
	// that the zero value means flate.BestSpeed.
	level    int
	chop     chopMode
	chopSize int
	variants bool          // also run bytewise and random-chunk variants
	heavy    bool          // moves megabytes: run one at a time
	timeout  time.Duration // whole case; default 20s, heavy 90s
	// pipelined frames are sent in the same write as the handshake.
	pipelined []frame
	steps     []step

	variant string // set by expand
}

const levelShift = 100

func lvl(l int) int { return l + levelShift }

func (c *tcase) flateLevel() int {
	if c.level == 0 {
		return flate.BestSpeed
	}
	return c.level - levelShift
}

func (c *tcase) name() string {
	if c.variant == "" {
		return c.id
	}
	return c.id + "-" + c.variant
}

func (c *tcase) group() string { return strings.SplitN(c.id, ".", 2)[0] }

var groupNames = map[string]string{
	"1":  "framing",
	"2":  "ping/pong",
	"3":  "reserved bits",
	"4":  "opcodes",
	"5":  "fragmentation",
	"6":  "UTF-8",
	"7":  "close handling",
	"9":  "limits",
	"10": "auto-fragmentation",
	"12": "permessage-deflate",
	"13": "deflate negotiation",
}

var groupOrder = []string{"1", "2", "3", "4", "5", "6", "7", "9", "10", "12", "13"}

// allCases is the table: every group's cases, in order.
func allCases() []*tcase {
	var all []*tcase
	for _, g := range [][]*tcase{
		framingCases(), pingCases(), rsvCases(), opcodeCases(), fragmentationCases(),
		utf8Cases(), closeCases(), limitCases(), autoFragCases(), deflateCases(), negotiationCases(),
	} {
		all = append(all, g...)
	}
	return expand(all)
}

// expand adds the TCP-chopping variants of cases marked for them.
func expand(cases []*tcase) []*tcase {
	var out []*tcase
	for _, c := range cases {
		out = append(out, c)
		if !c.variants {
			continue
		}
		for _, v := range []struct {
			name string
			mode chopMode
		}{{"bytewise", chopBytes}, {"chunks", chopRandom}} {
			cc := *c
			cc.variants, cc.variant, cc.chop = false, v.name, v.mode
			out = append(out, &cc)
		}
	}
	return out
}

// --- the echo server under test ---

type echoServer struct {
	addr        string
	compression bool
	cmd         *exec.Cmd
	mu          sync.Mutex
	log         []string
	exited      chan struct{}
}

func (e *echoServer) logLines() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.log)
}

// repoRoot finds the wsevents repository: the directory of the go.work
// file, or the parent of this module.
func repoRoot(t *testing.T) string {
	out, err := exec.Command("go", "env", "GOWORK").Output()
	if err == nil {
		if w := strings.TrimSpace(string(out)); w != "" && w != "off" {
			return filepath.Dir(w)
		}
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// echoBinary builds examples/echo once per test binary.
func echoBinary(t *testing.T) string {
	if p := os.Getenv("CONFORMANCE_ECHO"); p != "" {
		return p
	}
	root := repoRoot(t)
	if _, err := os.Stat(filepath.Join(root, "examples", "echo", "main.go")); err != nil {
		t.Fatalf("examples/echo not found under %s: %v", root, err)
	}
	bin := filepath.Join(t.TempDir(), "echo")
	cmd := exec.Command("go", "build", "-o", bin, "./examples/echo")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/echo: %v\n%s", err, out)
	}
	return bin
}

var addrRE = regexp.MustCompile(`ws://([^/\s]+)/echo`)

// startEcho runs the echo server on an ephemeral loopback port.
func startEcho(t *testing.T, bin string, compression bool) *echoServer {
	args := []string{"-addr", "127.0.0.1:0", "-max-message-size", strconv.Itoa(maxMessage)}
	if compression {
		args = append(args, "-compression")
	}
	e := &echoServer{compression: compression, cmd: exec.Command(bin, args...), exited: make(chan struct{})}
	stderr, err := e.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	e.cmd.Stdout = e.cmd.Stderr
	dieWithParent(e.cmd)
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			if m := addrRE.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
			e.mu.Lock()
			e.log = append(e.log, line)
			e.mu.Unlock()
		}
		e.cmd.Wait()
		close(e.exited)
	}()
	t.Cleanup(func() {
		e.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-e.exited:
		case <-time.After(15 * time.Second):
			e.cmd.Process.Kill()
			<-e.exited
		}
	})
	select {
	case e.addr = <-addr:
	case <-e.exited:
		t.Fatalf("echo exited: %s", strings.Join(e.logLines(), "\n"))
	case <-time.After(20 * time.Second):
		t.Fatalf("echo did not report its address: %s", strings.Join(e.logLines(), "\n"))
	}
	return e
}

// --- running cases ---

// runCase runs one case against srv.
func runCase(srv *echoServer, c *tcase) (outcome, string) {
	var o outcome
	timeout := c.timeout
	if timeout == 0 {
		timeout = 20 * time.Second
		if c.heavy {
			timeout = 90 * time.Second
		}
	}
	deadline := time.Now().Add(timeout)
	offer := c.offer
	if offer == "" && !c.noOffer {
		offer = defaultOffer
	}
	var pipelined []byte
	for _, f := range c.pipelined {
		pipelined = append(pipelined, f.encode([4]byte{1, 2, 3, 4})...)
	}
	s, exts, err := dial(srv.addr, offer, c, deadline, pipelined)
	if err != nil {
		o.failed("opening handshake: %v", err)
		return o, ""
	}
	defer s.close()
	negotiate(s, &o, c, srv.compression, offer, exts)
	s.start()
	ended := false
	for _, st := range c.steps {
		if !st(s, &o) {
			ended = true
			break
		}
	}
	if !ended {
		closeNormal()(s, &o)
	}
	return o, s.transcript()
}

// negotiate judges the server's permessage-deflate answer (RFC 7692
// section 7.1) and configures the session to match it.
func negotiate(s *session, o *outcome, c *tcase, compression bool, offer string, exts []string) {
	resp, err := parseExtensions(exts)
	if err != nil {
		o.failed("unparsable Sec-WebSocket-Extensions %q: %v", exts, err)
		return
	}
	if len(resp) == 0 {
		if compression && offer != "" && c.neg == negAccept {
			o.failed("server with -compression declined the valid offer %q", offer)
		}
		return
	}
	if !compression {
		o.failed("server without -compression accepted %q", exts)
	}
	if len(resp) > 1 || resp[0].name != "permessage-deflate" {
		o.failed("server accepted %q; only permessage-deflate was offered, once", exts)
		return
	}
	if c.neg == negDecline {
		o.failed("server accepted %q from the offer %q, which RFC 7692 7.1 says a server MUST decline (unknown or duplicate parameter, or invalid value)", exts, offer)
	}
	offers, _ := parseExtensions([]string{offer})
	type candidate struct {
		offer    pmd
		resp     pmd
		failures []string
		lax      []string
	}
	var (
		best     *candidate
		firstErr error
	)
	for _, of := range offers {
		if of.name != "permessage-deflate" {
			continue
		}
		po, ok := parsePMDOffer(of)
		if !ok && c.neg != negDecline {
			continue
		}
		r, err := parsePMDResponse(resp[0], po)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		cand := &candidate{offer: po, resp: r}
		if po.serverNoCtx && !r.serverNoCtx {
			cand.failures = append(cand.failures, "offer has server_no_context_takeover, the response lacks it (RFC 7692 7.1.1.1: a server accepts it by including it)")
		}
		if po.serverBits > 0 && r.serverBits == 0 {
			msg := fmt.Sprintf("offer has server_max_window_bits=%d, the response lacks it: RFC 7692 7.1.2.1 says a server accepts that parameter by including server_max_window_bits with the same or a smaller value", po.serverBits)
			if po.serverBits == 15 {
				cand.lax = append(cand.lax, msg+" (not a SHOULD, and harmless: 15 is the default window, so both sides agree)")
			} else {
				cand.failures = append(cand.failures, msg)
			}
		}
		if best == nil || len(cand.failures)+len(cand.lax) < len(best.failures)+len(best.lax) {
			best = cand
		}
		if len(cand.failures)+len(cand.lax) == 0 {
			break
		}
	}
	if best == nil {
		o.failed("response %q matches no offer in %q: %v", exts, offer, firstErr)
		return
	}
	for _, f := range best.failures {
		o.failed("%s", f)
	}
	for _, l := range best.lax {
		o.nonStrict("%s", l)
	}
	s.compress = true
	s.inflater = &inflater{takeover: !best.resp.serverNoCtx}
	s.deflater = &deflater{takeover: !(best.resp.clientNoCtx || best.offer.clientNoCtx), level: c.flateLevel()}
	if best.resp.clientBits > 0 && best.resp.clientBits < 15 {
		// compress/flate cannot shrink its window: Huffman-only output has
		// no back-references and fits any window.
		s.deflater.level = flate.HuffmanOnly
	}
	s.tracef("(permessage-deflate: server takeover %v, client takeover %v, level %d)", s.inflater.takeover, s.deflater.takeover, s.deflater.level)
}

// --- the test ---

type result struct {
	mode, name, group string
	o                 outcome
}

func parallelism() int {
	if n, err := strconv.Atoi(os.Getenv("CONFORMANCE_PARALLEL")); err == nil && n > 0 {
		return n
	}
	return 8
}

func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		// The cases mostly wait on the network: run more than GOMAXPROCS.
		flag.Set("test.parallel", strconv.Itoa(parallelism()))
	}
	code := m.Run()
	// The tally goes last, after the subtests' result lines.
	if finalTally != "" {
		fmt.Print(finalTally)
	}
	os.Exit(code)
}

// finalTally is the last report, printed by TestMain.
var finalTally string

// groupTime is the wall time of each mode/group.
var groupTime map[string]time.Duration

func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("conformance suite skipped in -short mode")
	}
	start := time.Now()
	bin := echoBinary(t)
	cases := allCases()
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.name()] {
			t.Fatalf("duplicate case %s", c.name())
		}
		seen[c.name()] = true
	}

	var (
		mu      sync.Mutex
		results []result
	)
	groupTime = map[string]time.Duration{}
	heavy := make(chan struct{}, 2) // two megabyte movers at a time
	for _, mode := range []struct {
		name        string
		compression bool
	}{{"off", false}, {"on", true}} {
		t.Run(mode.name, func(t *testing.T) {
			srv := startEcho(t, bin, mode.compression)
			for _, g := range groupOrder {
				began := time.Now()
				t.Run(g, func(t *testing.T) {
					for _, c := range cases {
						if c.group() != g || (c.modes == onOnly && !mode.compression) || (c.modes == offOnly && mode.compression) {
							continue
						}
						t.Run(c.name(), func(t *testing.T) {
							t.Parallel()
							if c.heavy {
								heavy <- struct{}{}
								defer func() { <-heavy }()
							}
							o, transcript := runCase(srv, c)
							mu.Lock()
							results = append(results, result{mode.name, c.name(), g, o})
							mu.Unlock()
							if o.v == vOK {
								if os.Getenv("CONFORMANCE_TRACE") != "" {
									t.Logf("OK: %s\n    %s", c.desc, strings.ReplaceAll(transcript, "\n", "\n    "))
								}
								return
							}
							msg := fmt.Sprintf("%s: %s\n  %s\n  transcript:\n    %s", o.v, c.desc,
								strings.Join(o.notes, "\n  "), strings.ReplaceAll(transcript, "\n", "\n    "))
							if o.v == vFailed {
								t.Error(msg)
							} else {
								t.Log(msg)
							}
						})
					}
				})
				groupTime[mode.name+"/"+g] = time.Since(began) // all of g's cases have ended
			}
			if lines := serverComplaints(srv.logLines()); len(lines) > 0 {
				t.Logf("echo server (%s) logged %d line(s) beyond its banner, first ones:\n%s", mode.name, len(lines), strings.Join(lines[:min(len(lines), 10)], "\n"))
			}
		})
	}
	finalTally = tally(results, time.Since(start))
	if t.Failed() {
		t.Log("FAILED cases: see the tally printed at the end of the run")
	}
}

func serverComplaints(lines []string) []string {
	var out []string
	for _, l := range lines {
		if !addrRE.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}

// tally renders the group x verdict table for both modes, then every
// non-OK case with its reasons.
func tally(results []result, took time.Duration) string {
	count := map[string]map[string]*[3]int{}
	for _, r := range results {
		if count[r.group] == nil {
			count[r.group] = map[string]*[3]int{"off": {}, "on": {}}
		}
		count[r.group][r.mode][r.o.v]++
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "conformance tally (%d case runs, %v):\n", len(results), took.Round(100*time.Millisecond))
	fmt.Fprintf(&b, "  %-25s | %-33s | %-33s\n", "group", "compression off", "compression on")
	fmt.Fprintf(&b, "  %-25s | %6s %10s %8s %6s | %6s %10s %8s %6s\n", "", "OK", "NON-STRICT", "FAILED", "time", "OK", "NON-STRICT", "FAILED", "time")
	var tot = map[string]*[3]int{"off": {}, "on": {}}
	for _, g := range groupOrder {
		c := count[g]
		if c == nil {
			continue
		}
		fmt.Fprintf(&b, "  %-25s |", g+" "+groupNames[g])
		for _, m := range []string{"off", "on"} {
			fmt.Fprintf(&b, " %6d %10d %8d %5.1fs |", c[m][0], c[m][1], c[m][2], groupTime[m+"/"+g].Seconds())
			for i := range 3 {
				tot[m][i] += c[m][i]
			}
		}
		b.Truncate(b.Len() - 2)
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "  %-25s | %6d %10d %8d %6s | %6d %10d %8d %6s\n", "total",
		tot["off"][0], tot["off"][1], tot["off"][2], "", tot["on"][0], tot["on"][1], tot["on"][2], "")
	var bad []result
	for _, r := range results {
		if r.o.v != vOK {
			bad = append(bad, r)
		}
	}
	slices.SortFunc(bad, func(a, b result) int {
		if c := strings.Compare(a.mode, b.mode); c != 0 {
			return c
		}
		return compareIDs(a.name, b.name)
	})
	if len(bad) > 0 {
		b.WriteString("non-OK cases:\n")
	}
	for _, r := range bad {
		fmt.Fprintf(&b, "  [%s] %-10s %s\n", r.mode, r.name, strings.Join(r.o.notes, "; "))
	}
	return b.String()
}

// compareIDs orders "6.10.2" after "6.9.1".
func compareIDs(a, b string) int {
	pa, pb := strings.FieldsFunc(a, splitID), strings.FieldsFunc(b, splitID)
	for i := range min(len(pa), len(pb)) {
		na, ea := strconv.Atoi(pa[i])
		nb, eb := strconv.Atoi(pb[i])
		if ea == nil && eb == nil && na != nb {
			return na - nb
		}
		if c := strings.Compare(pa[i], pb[i]); ea != nil || eb != nil {
			if c != 0 {
				return c
			}
		}
	}
	return len(pa) - len(pb)
}

func splitID(r rune) bool { return r == '.' || r == '-' }
