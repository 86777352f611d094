package app

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/privox/privox/internal/api"
	"github.com/privox/privox/internal/attendant"
	"github.com/privox/privox/internal/dialplan"
	"github.com/privox/privox/internal/store"
)

// The dial plan's configuration (outbound routes, dialling settings) and the toll-fraud
// guard's reports. Runs before the SIP subsystem is wired, which routes calls through it.

func init() { registerSubsystem(newDialplan) }

// routeTableTTL is how long a tenant's compiled route table is used before it is read
// again; changes made through this node apply at once.
const routeTableTTL = 5 * time.Second

func newDialplan(a *App) (Subsystem, error) {
	a.Dialplan = dialplan.NewStoreTables(a.DB, routeTableTTL)
	att := attendant.New(a.DB, nil, nil)
	a.Dialplan.Apps = att      // destinations of DIDs are checked on save
	a.Dialplan.Calendars = att // the calendars of time rules
	a.blocked = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "privox_dialplan_blocked_total",
		Help: "Outside calls the toll-fraud guard refused, by tenant and reason."}, []string{"tenant", "reason"})
	if err := a.Metrics.Register(a.blocked); err != nil {
		return nil, fmt.Errorf("dialplan: metrics: %w", err)
	}
	a.dialGuard = dialplan.NewGuard(dialplan.StoreSuspensions{DB: a.DB})
	tables := a.Dialplan
	// Where no SIP server runs, explanations read registrations from the store; the SIP
	// subsystem replaces this with its own (its cache and live registrations).
	a.Forwards = dialplan.NewStoreForwards(a.DB, routeTableTTL)
	explain := dialplan.StoreExplainer(a.DB, attendant.New(a.DB, nil, nil), tables, a.dialGuard, a.Forwards)
	a.apiDeps = append(a.apiDeps, func(d *api.Deps) {
		d.Dialplan = tables
		d.Forwards = a.Forwards
		if d.Explain == nil {
			d.Explain = explain
		}
	})
	return nil, nil
}

// blockedCall audits a call the toll-fraud guard refused and counts it.
func (a *App) blockedCall(ctx context.Context, req *dialplan.Request, d *dialplan.Decision) {
	a.blocked.WithLabelValues(strconv.FormatInt(req.TenantID, 10), d.Blocked).Inc()
	tid := req.TenantID
	e := store.AuditEntry{TenantID: &tid, Actor: "system", Action: "call.blocked", TargetType: "extension", TargetID: req.From,
		Detail: d.Blocked + ": " + d.Why}
	if req.FromUser != 0 {
		uid := req.FromUser
		e.ActorUserID = &uid
	}
	if _, err := a.DB.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		a.Logger.Warn("audit of a blocked call failed", "err", err, "tenant", req.TenantID)
	}
}

// forwards returns the forwarding settings as the dial plan reads them (nil when the dial
// plan subsystem is not wired).
func (a *App) forwards() dialplan.Forwarding {
	if a.Forwards == nil {
		return nil
	}
	return a.Forwards
}
