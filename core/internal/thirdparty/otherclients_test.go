package thirdparty

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	wsevents "github.com/wsevents/wsevents/core"
)

// The close codes for invalid UTF-8, an oversize message and a protocol
// error, as two more independent client libraries report them: Python's
// websockets (Debian's python3-websockets) and Node's ws. gorilla's view is
// in close_test.go. Each script prints {"utf8":..,"oversize":..,"protocol":..}.

var wantCodes = map[string]int{"utf8": 1007, "oversize": 1009, "protocol": 1002}

// needTool skips without the tool, except in CI where .ci/run installs it.
func needTool(t *testing.T, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s missing (CI=true: .ci/run installs it)", what)
	}
	t.Skipf("%s missing", what)
}

func runCloseScript(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	h := start(t, wsevents.Config{MaxMessageSize: 1024}, nil)
	cmd.Args = append(cmd.Args, h.url)
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("%v: %v\n%s", cmd.Args, err, ee.Stderr)
		}
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	var got map[string]int
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	for name, code := range wantCodes {
		if got[name] != code {
			t.Errorf("%s: the client saw close code %d, want %d", name, got[name], code)
		}
	}
	if len(got) != len(wantCodes) {
		t.Errorf("cases reported: %v", got)
	}
}

func TestCloseCodesPythonWebsockets(t *testing.T) {
	py := "/usr/bin/python3" // Debian's, where python3-websockets installs
	_, err := os.Stat(py)
	ok := err == nil && exec.Command(py, "-c", "import websockets").Run() == nil
	needTool(t, ok, "Debian python3 with python3-websockets")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	runCloseScript(t, exec.CommandContext(ctx, py, "testdata/closecodes.py"))
}

func TestCloseCodesNodeWs(t *testing.T) {
	modules, _ := filepath.Abs("../../../jsclient/node_modules")
	_, err := exec.LookPath("node")
	_, err2 := os.Stat(filepath.Join(modules, "ws"))
	needTool(t, err == nil && err2 == nil, "node with jsclient/node_modules/ws (npm ci in jsclient)")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "testdata/closecodes.cjs")
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	runCloseScript(t, cmd)
}
