package sip_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/store"
)

// The CDR crash test runs a Privox in a child process (this test binary, re-executed), puts a
// call through it, and kills it with SIGKILL while the call is up. The CDR must be there after
// the next start: written at the answer, completed by recovery with its end marked unknown.
const (
	cdrCrashChild = "PRIVOX_CDR_CRASH_CHILD"
	cdrCrashData  = "PRIVOX_CDR_CRASH_DATA"
)

// TestCDRCrashChild is the child's body; it does nothing in a normal test run.
func TestCDRCrashChild(t *testing.T) {
	if os.Getenv(cdrCrashChild) != "1" {
		t.Skip("runs only as the child of TestCDRSurvivesKill9")
	}
	p := privoxtest.Start(t, privoxtest.Options{DataDir: os.Getenv(cdrCrashData), NoLeakCheck: true})
	e := &env{t: t, p: p}
	e.ext("1001", "secret-1001")
	e.ext("1002", "secret-1002")
	uas := e.newPeer("udp")
	callee := e.sippUAS("callee", "uas.xml", uas)
	e.register("1002", "secret-1002", uas)
	caller := e.sippUAC("caller", "uac.xml", "udp", "-d", "30000")
	fmt.Printf("pids %d %d\n", callee.cmd.Process.Pid, caller.cmd.Process.Pid)
	// under load the call may take a while: wait up to a minute (the caller's sipp waits 40 s)
	for deadline := time.Now().Add(time.Minute); p.App.SIP().ActiveCalls() != 1; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for the call to be answered")
		}
	}
	// the start row is written behind the answer, within the writer's linger time
	waitFor(t, "the CDR start row", func() bool {
		var n int
		err := p.App.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM cdrs WHERE in_progress`).Scan(&n)
		return err == nil && n == 1
	})
	fmt.Println("answered")
	syscall.Kill(syscall.Getpid(), syscall.SIGKILL)
	select {}
}

func TestCDRSurvivesKill9(t *testing.T) {
	if os.Getenv(cdrCrashChild) != "" {
		t.Skip("child")
	}
	dir := filepath.Join(t.TempDir(), "data")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCDRCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), cdrCrashChild+"=1", cdrCrashData+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	var pids []int
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		l := sc.Text()
		lines = append(lines, l)
		if f := strings.Fields(l); len(f) == 3 && f[0] == "pids" {
			for _, s := range f[1:] {
				n, _ := strconv.Atoi(s)
				pids = append(pids, n)
			}
		}
	}
	_ = cmd.Wait()
	for _, pid := range pids { // the child's sipp peers outlive it
		if pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		t.Fatalf("the child was not killed in the call:\n%s", strings.Join(lines, "\n"))
	}

	p := privoxtest.Start(t, privoxtest.Options{DataDir: dir})
	cdrs, err := p.App.DB.ListCDRs(context.Background(), 1, 0, store.Page{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(cdrs) != 1 {
		t.Fatalf("%d CDRs after the crash, want the call's one", len(cdrs))
	}
	c := cdrs[0]
	if c.InProgress || !c.EndUnknown || c.AnswerAt == nil || c.Caller != "1001" || c.Callee != "1002" {
		t.Errorf("recovered CDR %+v: want answered, completed, end unknown", c)
	}
}
