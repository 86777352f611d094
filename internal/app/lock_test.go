package app_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/privox/privox/internal/app"
	"github.com/privox/privox/internal/dirlock"
	"github.com/privox/privox/internal/keys"
	"github.com/privox/privox/internal/privoxtest"
)

// TestMain lets a test run the privox command line in a process of its own: the test binary
// re-executed with PRIVOX_TEST_RUN_MAIN=1 is privox.
func TestMain(m *testing.M) {
	if os.Getenv("PRIVOX_TEST_RUN_MAIN") == "1" {
		if p := os.Getenv("PRIVOX_TEST_CRASH_AT"); p != "" {
			app.CrashAt(p) // cli_db_test.go
		}
		os.Exit(app.Main(app.Env{Args: os.Args[1:], Environ: os.Environ(), Stdout: os.Stdout, Stderr: os.Stderr}))
	}
	os.Exit(m.Run())
}

// privoxProcess is privox serve in a process of its own.
type privoxProcess struct {
	cmd    *exec.Cmd
	stderr *syncBuf
	done   chan struct{} // closed when the process has ended
	err    error
}

// kill ends the process with SIGKILL and waits for it.
func (p *privoxProcess) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func serveArgs(data string) []string {
	return []string{"serve", "--data", data, "--http-addr", "127.0.0.1:0", "--sip-addr", "127.0.0.1:0"}
}

func procEnv() []string {
	return append(os.Environ(), "PRIVOX_TEST_RUN_MAIN=1", "PRIVOX_SIP_TLS_ADDR=127.0.0.1:0", "PRIVOX_METRICS_ADDR=127.0.0.1:0", "PRIVOX_LDAP_ADDR=127.0.0.1:0", "PRIVOX_LDAP_LDAPS_ADDR=127.0.0.1:0", "PRIVOX_PROMPTS_DIR="+privoxtest.PromptDir(), "PRIVOX_RTP_PORTS="+privoxtest.RTPRange(40),
		"PRIVOX_ADMIN_PASSWORD=lock-test-admin-pw", "PRIVOX_LOG_LEVEL=warn")
}

// startProcess runs privox with args and, when waitReady, waits until it says it is running.
func startProcess(t *testing.T, args []string) *privoxProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = procEnv()
	p := &privoxProcess{cmd: cmd, stderr: &syncBuf{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.kill)
	running := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		said := false
		for sc.Scan() {
			if !said && strings.HasPrefix(sc.Text(), "Privox is running") {
				said = true
				running <- true
			}
		}
		io.Copy(io.Discard, out)
		if !said {
			running <- false
		}
		p.err = cmd.Wait()
		close(p.done)
	}()
	select {
	case ok := <-running:
		if !ok {
			<-p.done
			t.Fatalf("privox %s did not start: %s", strings.Join(args, " "), p.stderr.String())
		}
	case <-time.After(3 * time.Minute):
		t.Fatalf("privox %s: not running after 3 minutes: %s", strings.Join(args, " "), p.stderr.String())
	}
	return p
}

// runProcess runs privox with args to its end and returns its exit code and stderr.
func runProcess(t *testing.T, args ...string) (int, string) {
	t.Helper()
	// A command that is not refused keeps running (a second server): fail, do not hang.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = procEnv()
	var errb bytes.Buffer
	cmd.Stderr = &errb
	cmd.Stdout = io.Discard
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("privox %s still running after 3 minutes (not refused): %s", strings.Join(args, " "), errb.String())
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), errb.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, errb.String()
}

// TestOneServerPerDataDirectory starts privox serve in a process, then a second one on the
// same data directory, which is refused with the first one's pid; writing commands run beside
// the server, fsck --repair is refused while it runs; a server on another data directory whose
// key vault is held is refused; after the first server is killed (-9) a new one starts.
func TestOneServerPerDataDirectory(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	first := startProcess(t, serveArgs(data))
	pid := fmt.Sprint(first.cmd.Process.Pid)

	code, stderr := runProcess(t, serveArgs(data)...)
	if code != 1 || !strings.Contains(stderr, "another privox serve (pid "+pid+") is running on data directory "+data) {
		t.Fatalf("second server on one data directory: exit %d: %s", code, stderr)
	}
	env := []string{"PRIVOX_DATA_DIR=" + data}
	if o, er, code := run(env, "tenant", "add", "beside"); code != 0 {
		t.Fatalf("writing command beside the server: %d %s %s", code, o, er)
	}
	if o, _, code := run(env, "tenant", "list"); code != 0 || !strings.Contains(o, "beside") {
		t.Fatalf("tenant list beside the server: %d %s", code, o)
	}
	if _, er, code := run(env, "fsck", "--repair"); code != 1 || !strings.Contains(er, "(pid "+pid+") is running") || !strings.Contains(er, "stop it before repairing") {
		t.Fatalf("fsck --repair beside the server: %d %s", code, er)
	}

	// A vault held by another process.
	other := filepath.Join(t.TempDir(), "other")
	if err := os.MkdirAll(keys.DefaultDir(other), 0o700); err != nil {
		t.Fatal(err)
	}
	held, err := dirlock.Acquire(filepath.Join(keys.DefaultDir(other), "privox.lock"), dirlock.Exclusive)
	if err != nil {
		t.Fatal(err)
	}
	code, stderr = runProcess(t, serveArgs(other)...)
	held.Release()
	if code != 1 || !strings.Contains(stderr, fmt.Sprintf("(pid %d) is using key vault %s", os.Getpid(), keys.DefaultDir(other))) {
		t.Fatalf("server on a held key vault: exit %d: %s", code, stderr)
	}

	// kill -9 leaves no stale lock: the kernel releases it with the process.
	first.kill()
	second := startProcess(t, serveArgs(data))
	second.kill()
	if _, er, code := run(env, "fsck", "--repair"); code != 0 {
		t.Fatalf("fsck --repair with the server stopped: %d %s", code, er)
	}
}
