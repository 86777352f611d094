package sip

import (
	"context"
	"log/slog"
)

// sipgoHandler is the log handler given to sipgo. sipgo logs some failures with the whole
// message attached ("data"), which may hold digest responses or caller names, so those
// attributes are dropped; and its Info/Warn chatter (unhandled retransmissions, connection
// churn) is demoted to Debug, its errors to Warn: a SIP stack facing the internet sees
// garbage all day, and one scanner must not fill the application log.
type sipgoHandler struct {
	next slog.Handler
}

func newSipgoHandler(next slog.Handler) slog.Handler { return &sipgoHandler{next: next} }

func demote(l slog.Level) slog.Level {
	if l >= slog.LevelError {
		return slog.LevelWarn
	}
	return slog.LevelDebug
}

func (h *sipgoHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, demote(l))
}

func (h *sipgoHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, demote(r.Level), "sipgo: "+r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "data", "msg", "body":
		default:
			out.AddAttrs(a)
		}
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *sipgoHandler) WithAttrs(as []slog.Attr) slog.Handler {
	keep := as[:0:0]
	for _, a := range as {
		if a.Key != "data" && a.Key != "msg" && a.Key != "body" {
			keep = append(keep, a)
		}
	}
	return &sipgoHandler{next: h.next.WithAttrs(keep)}
}

func (h *sipgoHandler) WithGroup(name string) slog.Handler {
	return &sipgoHandler{next: h.next.WithGroup(name)}
}
