package sip_test

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTrunkRegistration: a registering trunk registers with a sipp registrar that demands
// digest authentication; when that registrar is gone, the refresh fails and the trunk
// registers with its failover server; the state is in the API and the metrics.
func TestTrunkRegistration(t *testing.T) {
	e := start(t, nil)
	p1, p2 := freePort(t), freePort(t)
	primary := e.sipp("registrar", "trunk_registrar.xml", "-i", "127.0.0.1", "-p", strconv.Itoa(p1), "-m", "1")
	secondary := e.sipp("failover", "trunk_registrar.xml", "-i", "127.0.0.1", "-p", strconv.Itoa(p2), "-m", "1")
	waitListening(t, "udp", p1)
	waitListening(t, "udp", p2)
	if out, er, code := e.p.CLI("trunk", "set", "--tenant", "default", "--name", "carrier", "--kind", "register",
		"--server", "127.0.0.1:"+strconv.Itoa(p1), "--failover", "127.0.0.1:"+strconv.Itoa(p2),
		"--username", "acme-1", "--password", "carrier-pass-1", "--expires", "60"); code != 0 {
		t.Fatalf("trunk set: %s %s", out, er)
	}
	state := func() (string, string) {
		st := e.srv().TrunkStates(1)
		if len(st) != 1 {
			return "", ""
		}
		return st[0].State, st[0].Server
	}
	waitFor(t, "registered with the primary", func() bool { s, srv := state(); return s == "registered" && strings.HasSuffix(srv, strconv.Itoa(p1)) })
	primary.wait(t) // the registrar verified the digest answer and granted 5 s
	if msgs := primary.messages(); !strings.Contains(msgs, `username="acme-1"`) || strings.Contains(msgs, "carrier-pass-1") {
		t.Errorf("REGISTER as sent:\n%s", tail(msgs, 3000))
	}
	if v := gauge(t, e, "privox_trunk_registered"); v != 1 {
		t.Errorf("privox_trunk_registered %v", v)
	}
	// The primary is gone: the refresh fails, and the failover server takes the binding.
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if s, srv := state(); s == "registered" && strings.HasSuffix(srv, strconv.Itoa(p2)) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if s, srv := state(); s != "registered" || !strings.HasSuffix(srv, strconv.Itoa(p2)) {
		t.Fatalf("after the primary went away: %s at %s", s, srv)
	}
	secondary.wait(t)
	var states []struct {
		Trunk, State string
		Failures     int
	}
	e.p.MustDo(200, "GET", "/api/v1/tenants/1/trunk-states", e.p.AdminToken, nil, &struct{ Items any }{&states})
	if len(states) != 1 || states[0].Trunk != "carrier" || states[0].State != "registered" {
		t.Errorf("trunk states in the API: %+v", states)
	}
}

// gauge reads one unlabelled-sum value from the Privox metrics registry.
func gauge(t *testing.T, e *env, name string) float64 {
	t.Helper()
	mfs, err := e.p.App.Metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}
