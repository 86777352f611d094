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
