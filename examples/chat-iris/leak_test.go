package main

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test of this example stops what it started: the server, its
// connections and its goroutines.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
