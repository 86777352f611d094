package privacy

import (
	"context"
	"errors"
	"time"
)

// FlowRefresh is how often Run reloads the stored flow switches, so that a switch changed on
// another node or with the CLI takes effect.
const FlowRefresh = 30 * time.Second

// Run sweeps every interval and reloads the flow switches every FlowRefresh until ctx ends.
// The first sweep runs one interval after start, not at once, so that a restart does not
// delete in the middle of an operator's investigation of what it was about to do.
func (e *Engine) Run(ctx context.Context, interval time.Duration) {
	sweep := time.NewTicker(interval)
	defer sweep.Stop()
	refresh := time.NewTicker(FlowRefresh)
	defer refresh.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-refresh.C:
			if err := e.LoadFlowSwitches(ctx); err != nil && ctx.Err() == nil {
				e.log.Warn("reload flow switches", "err", err)
			}
		case <-sweep.C:
			start := time.Now()
			rep, err := e.Sweep(ctx, SweepOptions{})
			switch {
			case errors.Is(err, ErrBusy):
				e.log.Debug("sweep skipped: another node is sweeping")
			case err != nil && ctx.Err() == nil:
				e.log.Error("retention sweep failed", "err", err)
			case err == nil:
				rows, files := rep.Removed()
				e.log.Info("retention sweep done", "rows", rows, "files", files, "holds_expired", rep.HoldsExpired,
					"erasures_completed", rep.ErasuresCompleted, "erasures_pending", rep.ErasuresPending, "took", time.Since(start).String())
			}
		}
	}
}
