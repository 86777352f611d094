package privacy

import (
	"context"
	"errors"
	"fmt"

	"github.com/privox/privox/internal/flows"
	"github.com/privox/privox/internal/store"
)

// LoadFlowSwitches applies the stored switches of the outbound flows to the live registry.
// Privox calls it at start and then now and then, so that a switch changed on another node or
// with the CLI takes effect everywhere.
func (e *Engine) LoadFlowSwitches(ctx context.Context) error {
	if e.flows == nil {
		return nil
	}
	fs, err := e.db.FlowSettings(ctx)
	if err != nil {
		return fmt.Errorf("privacy: load flow switches: %w", err)
	}
	for _, f := range fs {
		if err := e.flows.SetEnabled(f.Name, f.Enabled); err != nil {
			// A flow that is no longer declared stays off; nothing can dial it anyway.
			e.log.Warn("stored switch for an undeclared flow ignored", "flow", f.Name)
		}
	}
	return nil
}

// SetFlow switches a declared outbound flow on or off, for this node at once and, through the
// store, for every node. The change is audited.
func (e *Engine) SetFlow(ctx context.Context, name string, on bool, a Actor) (flows.State, error) {
	if _, ok := flows.Lookup(name); !ok {
		return flows.State{}, invalid("no declared flow %q", name)
	}
	state := "off"
	if on {
		state = "on"
	}
	err := e.db.InTx(ctx, func(tx *store.DB) error {
		if err := tx.SetFlowSetting(ctx, name, on); err != nil {
			return err
		}
		return e.audit(ctx, tx, a, 0, "flow.switch", "flow", name, state)
	})
	if err != nil {
		return flows.State{}, err
	}
	if e.flows != nil {
		if err := e.flows.SetEnabled(name, on); err != nil && !errors.Is(err, flows.ErrUndeclared) {
			return flows.State{}, err
		}
	}
	for _, s := range e.Flows(ctx) {
		if s.Name == name {
			return s, nil
		}
	}
	return flows.State{}, nil
}

// Flows lists every declared flow with its switch as stored (or its default) and whether a
// destination is configured; a flow is on only with both.
func (e *Engine) Flows(ctx context.Context) []flows.State {
	stored := map[string]bool{}
	if fs, err := e.db.FlowSettings(ctx); err == nil {
		for _, f := range fs {
			stored[f.Name] = f.Enabled
		}
	}
	var out []flows.State
	for _, f := range flows.Declared() {
		on, ok := stored[f.Name]
		if !ok {
			on = f.DefaultOn
			if e.flows != nil {
				on = e.flows.SwitchedOn(f.Name)
			}
		}
		dest, plain := "", false
		if e.flows != nil {
			dest, plain = e.flows.Destination(f.Name), e.flows.Unencrypted(f.Name)
		}
		st := flows.NewState(f, on, dest)
		st.Unencrypted = plain
		out = append(out, st)
	}
	return out
}
