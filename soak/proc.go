package soak

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// proc is a child process of the run: its standard input stays open for
// commands (the soak programs exit when it closes, so a driver that dies
// leaves nothing behind), its standard output is read line by line, and
// its standard error goes to the run's log, prefixed.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	exited chan struct{}
	err    error // after exited

	mu   sync.Mutex
	tail []string // last lines of standard error
}

func startProc(name, bin string, args []string, log io.Writer) (*proc, error) {
	p := &proc{name: name, lines: make(chan string, 16), exited: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var pipes sync.WaitGroup
	pipes.Add(2)
	go func() {
		defer pipes.Done()
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 256<<20) // reports list every connection
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	go func() {
		defer pipes.Done()
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintf(log, "[%s] %s\n", name, line)
			p.mu.Lock()
			p.tail = append(p.tail, line)
			if len(p.tail) > 20 {
				p.tail = p.tail[1:]
			}
			p.mu.Unlock()
		}
	}()
	go func() {
		pipes.Wait()
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// expect returns the rest of the first output line that starts with
// prefix; other lines are logged.
func (p *proc) expect(ctx context.Context, prefix string, timeout time.Duration, log io.Writer) (string, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				<-p.exited
				return "", fmt.Errorf("%s exited (%v) before %q; stderr:\n%s", p.name, p.err, prefix, p.stderrTail())
			}
			if rest, found := strings.CutPrefix(line, prefix); found {
				return rest, nil
			}
			fmt.Fprintf(log, "[%s] %s\n", p.name, line)
		case <-t.C:
			return "", fmt.Errorf("%s: no %q within %v; stderr:\n%s", p.name, prefix, timeout, p.stderrTail())
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

func (p *proc) send(cmd string) error {
	_, err := io.WriteString(p.stdin, cmd+"\n")
	if err != nil {
		return fmt.Errorf("%s: %q: %w", p.name, cmd, err)
	}
	return nil
}

func (p *proc) stderrTail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.tail, "\n")
}

// wait waits for the process to exit, killing it after timeout.
func (p *proc) wait(timeout time.Duration) error {
	go p.drain()
	select {
	case <-p.exited:
		return p.err
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%s did not exit within %v: killed", p.name, timeout)
	}
}

// kill ends the process at once (cleanup after a failure).
func (p *proc) kill() {
	select {
	case <-p.exited:
	default:
		go p.drain()
		p.cmd.Process.Kill()
		p.stdin.Close()
		<-p.exited
	}
}

// drain discards what is left of standard output, so the process is not
// blocked writing it.
func (p *proc) drain() {
	for range p.lines {
	}
}
