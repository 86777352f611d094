package medialoadtest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime/pprof"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/privox/privox/internal/media"
)

var (
	calls    = flag.Int("calls", 20, "concurrent calls (two streams each)")
	duration = flag.Duration("duration", time.Second, "sending time")
	portMin  = flag.Int("portmin", 16000, "first port of the relay's range")
	maxLoss  = flag.Float64("maxloss", 0.05, "loss fraction above which TestLoad fails")
	engine   = flag.String("engine", "auto", "relay receive engine: auto, epoll or goroutines")
)

const childEnv = "MEDIALOADTEST_RELAY"

// TestMain doubles as the relay process: with MEDIALOADTEST_RELAY=1 the test binary serves one
// load run on stdin/stdout instead of running tests.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		if path := os.Getenv("MEDIALOADTEST_CPUPROFILE"); path != "" {
			f, err := os.Create(path)
			if err == nil && pprof.StartCPUProfile(f) == nil {
				defer pprof.StopCPUProfile()
			}
		}
		err := Serve(os.Stdin, os.Stdout)
		pprof.StopCPUProfile()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// TestLoad runs a small load by default (a smoke test that also runs under -race); pass
// -calls and -duration to measure. It reports loss and CPU; it fails only on gross loss, never
// on timing.
func TestLoad(t *testing.T) {
	eng := map[string]media.Engine{"auto": media.EngineAuto, "epoll": media.EngineEpoll, "goroutines": media.EngineGoroutines}[*engine]
	opt := Options{
		Engine:   eng,
		Calls:    *calls,
		Duration: *duration,
		PortMin:  *portMin,
		PortMax:  *portMin + 4**calls + 400,
		Relay: func(ctx context.Context) *exec.Cmd {
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"=1")
			cmd.Stderr = os.Stderr
			return cmd
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), *duration+2*time.Minute)
	defer cancel()
	res, err := Run(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res)
	if res.Received == 0 {
		t.Fatal("nothing came through the relay")
	}
	if res.Loss > *maxLoss {
		t.Fatalf("loss %.3f%% above %.3f%%", 100*res.Loss, 100**maxLoss)
	}
}

// TestLoadInProcess runs the relay in this process (no CPU separation) to cover that mode.
func TestLoadInProcess(t *testing.T) {
	res, err := Run(context.Background(), Options{Calls: 5, Duration: 200 * time.Millisecond, PortMin: *portMin + 4**calls + 500, PortMax: *portMin + 4**calls + 600})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res)
	if res.Received == 0 {
		t.Fatal("nothing came through the relay")
	}
}
