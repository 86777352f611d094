package dialplan

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/privox/privox/internal/store"
)

// StoreForwards implements Forwarding and Applier over the store. A tenant's settings are
// read at once and kept for TTL, so that routing a call normally reaches no database;
// changes made through it apply at once (other nodes see them within TTL).
type StoreForwards struct {
	db  *store.DB
	ttl time.Duration

	mu sync.Mutex
	m  map[int64]fwdEntry
}

type fwdEntry struct {
	byNumber map[string]Forward
	cfg      ForwardConfig
	fetched  time.Time
}

var (
	_ Forwarding = (*StoreForwards)(nil)
	_ Applier    = (*StoreForwards)(nil)
)

// NewStoreForwards returns the settings of db, cached for ttl.
func NewStoreForwards(db *store.DB, ttl time.Duration) *StoreForwards {
	return &StoreForwards{db: db, ttl: ttl, m: map[int64]fwdEntry{}}
}

func (s *StoreForwards) entry(ctx context.Context, tenantID int64) (fwdEntry, error) {
	now := time.Now()
	s.mu.Lock()
	e, ok := s.m[tenantID]
	s.mu.Unlock()
	if ok && now.Sub(e.fetched) < s.ttl {
		return e, nil
	}
	rows, err := s.db.ListForwarding(ctx, tenantID)
	if err != nil {
		return e, fmt.Errorf("dialplan: forwarding: %w", err)
	}
	set, err := s.db.ForwardSettings(ctx, tenantID)
	if err != nil {
		return e, fmt.Errorf("dialplan: forwarding: %w", err)
	}
	codes, err := ParseCodes(set.Codes)
	if err != nil {
		codes = DefaultCodes // stored codes were validated; never route on broken ones
	}
	e = fwdEntry{byNumber: make(map[string]Forward, len(rows)), cfg: ForwardConfig{MaxHops: set.MaxHops, Codes: codes}, fetched: now}
	for _, f := range rows {
		e.byNumber[f.Number] = toForward(f)
	}
	s.mu.Lock()
	s.m[tenantID] = e
	s.mu.Unlock()
	return e, nil
}

func toForward(f store.Forwarding) Forward {
	out := Forward{ExtID: f.ExtensionID, Always: f.Always, Busy: f.Busy, NoAnswer: f.NoAnswer, Unreachable: f.Unreachable, DND: f.DND,
		RingFor: time.Duration(f.NoAnswerRingS) * time.Second}
	if f.UserID != nil {
		out.UserID = *f.UserID
	}
	return out
}

// Forward implements Forwarding.
func (s *StoreForwards) Forward(ctx context.Context, tenantID int64, number string) (Forward, error) {
	e, err := s.entry(ctx, tenantID)
	return e.byNumber[number], err
}

// ForwardConfig implements Forwarding.
func (s *StoreForwards) ForwardConfig(ctx context.Context, tenantID int64) (ForwardConfig, error) {
	e, err := s.entry(ctx, tenantID)
	return e.cfg, err
}

// Invalidate drops a tenant's cached settings.
func (s *StoreForwards) Invalidate(tenantID int64) {
	s.mu.Lock()
	delete(s.m, tenantID)
	s.mu.Unlock()
}

// InvalidateAll drops every tenant's cached settings.
func (s *StoreForwards) InvalidateAll() {
	s.mu.Lock()
	clear(s.m)
	s.mu.Unlock()
}

// ValidateForwarding checks a setting before it is stored: targets are numbers, not the
// extension's own, and the ring time is within bounds.
func ValidateForwarding(f store.Forwarding) (store.Forwarding, error) {
	for _, t := range []struct {
		field string
		v     string
	}{{"always", f.Always}, {"busy", f.Busy}, {"no_answer", f.NoAnswer}, {"unreachable", f.Unreachable}} {
		if t.v == "" {
			continue
		}
		if err := ValidTarget(t.v); err != nil {
			return f, &FieldError{Field: t.field, Err: err}
		}
		if t.v == f.Number {
			return f, fieldErr(t.field, "%s cannot forward to itself", t.v)
		}
	}
	if f.NoAnswerRingS < 0 || time.Duration(f.NoAnswerRingS)*time.Second > MaxForwardRing {
		return f, fieldErr("no_answer_ring_s", "%d: between 0 and %d seconds", f.NoAnswerRingS, int(MaxForwardRing/time.Second))
	}
	if f.NoAnswer == "" {
		f.NoAnswerRingS = 0
	}
	return f, nil
}

// Actor names who changed a setting, for the audit log.
type Actor struct {
	UserID *int64
	Name   string // "user:12", "cli", "phone:1001"
	IP     string
}

// Save validates and stores an extension's setting and audits the change.
func (s *StoreForwards) Save(ctx context.Context, f store.Forwarding, by Actor) (store.Forwarding, error) {
	e, err := s.db.Extension(ctx, f.TenantID, f.ExtensionID)
	if err != nil {
		return f, err
	}
	f.Number = e.Number
	if f, err = ValidateForwarding(f); err != nil {
		return f, err
	}
	out, err := s.db.PutForwarding(ctx, f)
	s.Invalidate(f.TenantID)
	if err != nil {
		return out, err
	}
	out.Number = e.Number
	tid := f.TenantID
	detail := fmt.Sprintf("always=%q busy=%q no_answer=%q ring=%ds unreachable=%q dnd=%t", f.Always, f.Busy, f.NoAnswer, f.NoAnswerRingS, f.Unreachable, f.DND)
	if _, err := s.db.AppendAudit(context.WithoutCancel(ctx), store.AuditEntry{TenantID: &tid, ActorUserID: by.UserID, Actor: by.Name,
		Action: "forwarding.update", TargetType: "extension", TargetID: strconv.FormatInt(f.ExtensionID, 10), SourceIP: by.IP, Detail: detail}); err != nil {
		return out, fmt.Errorf("dialplan: audit forwarding change: %w", err)
	}
	return out, nil
}

// ApplyFeature implements Applier: the change a feature code asked for, made as the phone.
func (s *StoreForwards) ApplyFeature(ctx context.Context, tenantID int64, extension string, ch Change) error {
	e, err := s.db.ExtensionByNumber(ctx, tenantID, extension)
	if err != nil {
		return fmt.Errorf("dialplan: feature code from %s: %w", extension, err)
	}
	f, err := s.db.Forwarding(ctx, tenantID, e.ID)
	if err != nil {
		return err
	}
	switch ch.Field {
	case "always":
		f.Always = ch.Target
	case "busy":
		f.Busy = ch.Target
	case "no_answer":
		f.NoAnswer, f.NoAnswerRingS = ch.Target, int(ch.Ring/time.Second)
	case "unreachable":
		f.Unreachable = ch.Target
	case "dnd":
		f.DND = ch.DND
	}
	_, err = s.Save(ctx, f, Actor{UserID: e.UserID, Name: "phone:" + extension})
	return err
}

// SaveConfig validates and stores a tenant's hop limit and feature codes.
func (s *StoreForwards) SaveConfig(ctx context.Context, fs store.ForwardSettings) (store.ForwardSettings, error) {
	if fs.MaxHops < 0 || fs.MaxHops > MaxHopsLimit {
		return fs, fieldErr("max_hops", "%d: between 0 (the default, %d) and %d", fs.MaxHops, DefaultMaxHops, MaxHopsLimit)
	}
	if fs.Codes != "" {
		c, err := ParseCodes(fs.Codes)
		if err != nil {
			return fs, err
		}
		fs.Codes = c.String()
	}
	out, err := s.db.PutForwardSettings(ctx, fs)
	s.Invalidate(fs.TenantID)
	return out, err
}
