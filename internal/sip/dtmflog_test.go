package sip_test

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/privox/privox/internal/media"
	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/sip"
)

// lockedBuffer collects log lines from many goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestDTMFNotLogged: a call with a DTMF digit, logged at debug level, leaves no digit in the
// log (digits may be PINs), while the event itself is seen.
func TestDTMFNotLogged(t *testing.T) {
	const pcap = "/usr/share/sip-tester/dtmf_2833_1.pcap"
	if _, err := os.Stat(pcap); err != nil {
		t.Fatalf("%s missing: install the Debian package sip-tester", pcap)
	}
	logs := &lockedBuffer{}
	p := privoxtest.Start(t, privoxtest.Options{LogCopy: logs})
	if p.Cfg.Log.Level != "debug" {
		t.Fatalf("log level %q: this test needs debug", p.Cfg.Log.Level)
	}
	e := &env{t: t, p: p}
	e.ext("1001", "secret-1001")
	e.ext("1002", "secret-1002")
	seen := make(chan struct{}, 10)
	e.srv().OnDTMF(func(sip.CallInfo, media.LegID, media.DTMFEvent) { seen <- struct{}{} })
	e.sippCall(t, "udp", "uas.xml", "uac_dtmf.xml")
	select {
	case <-seen:
	case <-time.After(5 * time.Second):
		t.Fatal("no DTMF event")
	}
	n := 0
	for _, line := range strings.Split(logs.String(), "\n") {
		l := strings.ToLower(line)
		if !strings.Contains(l, "dtmf") {
			continue
		}
		n++
		for _, leak := range []string{`"digit"`, `"event":{`, `"event":1`, `signal=`} {
			if strings.Contains(l, leak) {
				t.Errorf("a DTMF digit in the log (%s): %s", leak, line)
			}
		}
	}
	if n == 0 {
		t.Error("the DTMF event was not logged at all (the test would prove nothing)")
	}
}
