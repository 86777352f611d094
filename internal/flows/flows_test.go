package flows

import (
	"context"
	"errors"
	"net"
	"testing"
)

func TestUndeclaredDialFails(t *testing.T) {
	r := NewRegistry()
	_, err := r.Dial(context.Background(), "telemetry", "tcp", "127.0.0.1:1")
	if !errors.Is(err, ErrUndeclared) {
		t.Fatalf("want ErrUndeclared, got %v", err)
	}
}

func TestSwitchedOffDialFails(t *testing.T) {
	r := NewRegistry()
	if _, err := r.Dial(context.Background(), "update_check", "tcp", "127.0.0.1:1"); !errors.Is(err, ErrSwitchedOff) {
		t.Fatalf("want ErrSwitchedOff, got %v", err)
	}
}

func TestSwitchedOnDialConnects(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r := NewRegistry()
	if err := r.SetEnabled("update_check", true); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Dial(context.Background(), "update_check", "tcp", ln.Addr().String()); !errors.Is(err, ErrNotConfigured) {
		t.Fatalf("switched on without a destination: want ErrNotConfigured, got %v", err)
	}
	if err := r.SetDestination("update_check", ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
	c, err := r.Dial(context.Background(), "update_check", "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestEveryFlowComplete(t *testing.T) {
	for _, f := range Declared() {
		if f.Purpose == "" || f.Destination == "" || f.DataSent == "" || f.LegalBasis == "" || f.Switch == "" {
			t.Errorf("flow %s incompletely declared", f.Name)
		}
	}
}

// TestFlowOnOnlyWithDestination walks the registry: every declared flow is off in a new
// registry (none has a destination, whatever its default switch), off when only switched on,
// off when only configured, and on with both.
func TestFlowOnOnlyWithDestination(t *testing.T) {
	r := NewRegistry()
	for _, s := range r.List() {
		if s.Enabled || r.Enabled(s.Name) || r.Check(s.Name) == nil {
			t.Errorf("%s is on with no destination configured (default switch %v)", s.Name, s.DefaultOn)
		}
		r.SetEnabled(s.Name, false)
		r.SetDestination(s.Name, "dest.example:1")
		if r.Enabled(s.Name) || !errors.Is(r.Check(s.Name), ErrSwitchedOff) {
			t.Errorf("%s is on while switched off", s.Name)
		}
		r.SetEnabled(s.Name, true)
		if !r.Enabled(s.Name) || r.Check(s.Name) != nil {
			t.Errorf("%s is off while switched on and configured", s.Name)
		}
		r.SetDestination(s.Name, "")
		if r.Enabled(s.Name) || !errors.Is(r.Check(s.Name), ErrNotConfigured) {
			t.Errorf("%s is on after its destination was removed", s.Name)
		}
	}
}
