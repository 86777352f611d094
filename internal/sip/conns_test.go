package sip_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	gosip "github.com/emiago/sipgo/sip"

	"github.com/privox/privox/internal/sip"
)

// registerTCP registers 1001 over TCP with sipgo's client from 127.0.0.2 and returns the
// final status.
func (e *env) registerTCP(t *testing.T) int {
	t.Helper()
	c := newSIPClient(t, "127.0.0.2")
	uri := gosip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: port(e.addr("tcp")), UriParams: gosip.NewParams()}
	uri.UriParams.Add("transport", "tcp")
	req := gosip.NewRequest(gosip.REGISTER, uri)
	req.SetTransport("TCP")
	req.AppendHeader(&gosip.FromHeader{Address: gosip.Uri{Scheme: "sip", User: "1001", Host: "127.0.0.1"}, Params: tagParam()})
	req.AppendHeader(&gosip.ToHeader{Address: gosip.Uri{Scheme: "sip", User: "1001", Host: "127.0.0.1"}})
	req.AppendHeader(&gosip.ContactHeader{Address: gosip.Uri{Scheme: "sip", User: "1001", Host: "127.0.0.2", Port: 5999}})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	res, err := c.c.Do(ctx, req)
	if err != nil {
		t.Fatalf("REGISTER over TCP: %v", err)
	}
	if res.StatusCode == 401 {
		res, err = c.c.DoDigestAuth(ctx, req, res, sipgoAuth("1001", "secret-1001"))
		if err != nil {
			t.Fatalf("REGISTER over TCP with credentials: %v", err)
		}
	}
	return res.StatusCode
}

// flood opens n TCP connections from ip to addr that say nothing, and returns them.
func flood(t *testing.T, ip, addr string, n int) []net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	var conns []net.Conn
	for i := 0; i < n; i++ {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			break
		}
		conns = append(conns, c)
	}
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	return conns
}

// TestConnectionFlood: a flood of silent connections beyond the global cap is shed, what the
// cap let in is closed once the read time-out passes, and then a normal client registers.
// (The flood comes from a trusted source, loopback, to which the per-source cap does not apply.)
func TestConnectionFlood(t *testing.T) {
	e := start(t, func(p *sip.Policy) {
		p.MaxConnections = 20
		p.StreamReadTimeout = time.Second
	})
	e.ext("1001", "secret-1001")
	conns := flood(t, "127.0.0.3", e.addr("tcp"), 100)
	if len(conns) < 50 {
		t.Fatalf("only %d connections opened", len(conns))
	}
	waitFor(t, "the flood to be shed", func() bool { return e.srv().StreamConns() > 0 })
	if n := e.srv().StreamConns(); n > 20 {
		t.Fatalf("%d connections held, cap 20", n)
	}
	waitFor(t, "silent connections to time out", func() bool { return e.srv().StreamConns() == 0 })
	if st := e.registerTCP(t); st != 200 {
		t.Fatalf("REGISTER after the flood: %d, want 200", st)
	}
}

// TestSlowSender: a message that trickles in is cut off after the read time-out, while a
// connection that delivered a message and went quiet stays open.
func TestSlowSender(t *testing.T) {
	e := start(t, func(p *sip.Policy) { p.StreamReadTimeout = time.Second })
	c, err := net.Dial("tcp", e.addr("tcp"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bK-slow\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 4096)
	if _, err := c.Read(buf); err == nil {
		t.Fatal("the half-sent message got an answer")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the slow sender's connection was not closed")
	}
}

// TestAcceptSurvivesFDExhaustion is the descriptor exhaustion attack: with the process's
// descriptor limit lowered, a flood of connections makes accept fail with EMFILE. Once the
// flood is gone, SIP over TCP must serve again (sipgo's own accept loop would have ended).
func TestAcceptSurvivesFDExhaustion(t *testing.T) {
	e := start(t, nil)
	e.ext("1001", "secret-1001")
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	low := old
	low.Cur = uint64(len(fds) + 40)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
				t.Fatal(err)
			}
		}
	}
	defer restore()
	conns := flood(t, "127.0.0.3", e.addr("tcp"), 200)
	waitFor(t, "accept to fail for want of descriptors", func() bool { return e.srv().AcceptErrors() > 0 })
	for _, c := range conns {
		c.Close()
	}
	restore()
	if st := e.registerTCP(t); st != 200 {
		t.Fatalf("REGISTER over TCP after descriptor exhaustion: %d, want 200", st)
	}
	if err := e.srv().Healthy(); err != nil {
		t.Fatal(err)
	}
}

// TestReadyzReflectsDeadListener: readiness turns false when a SIP listener stops serving.
func TestReadyzReflectsDeadListener(t *testing.T) {
	e := start(t, nil)
	get := func() int {
		res, err := http.Get(e.p.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if st := get(); st != 200 {
		t.Fatalf("/readyz %d before, want 200", st)
	}
	e.srv().KillTCPListenerForTest()
	waitFor(t, "/readyz to turn false", func() bool { return get() == http.StatusServiceUnavailable })
}

func sipgoAuth(user, password string) sipgo.DigestAuth {
	return sipgo.DigestAuth{Username: user, Password: password}
}
