// Package attendant is the auto attendant: per-tenant IVR menus that greet a caller, take a
// choice by DTMF (in-band or RFC 4733) and send the caller to an extension, another menu or a
// fallback, with business hours and holidays from a tenant calendar. It is an application of
// the call model (call.App) and the router of attendant numbers (call.Router); menus and
// calendars are stored configuration (store: menus, calendars), checked here on every change.
// The dial plan's time rules read the same calendars through it (dialplan.Calendars).
package attendant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/privox/privox/internal/audio"
	"github.com/privox/privox/internal/call"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/voicemail"
)

// AppName is the attendant's name in the call model's registry.
const AppName = "attendant"

// MaxHops bounds how many menus one call passes through (a caller choosing "back to the main
// menu" over and over): then the caller hears goodbye and the call ends.
const MaxHops = 20

// Prompts gives the attendant its prompts.
type Prompts interface {
	// Prompt returns a tenant's prompt by name in a language ("de", "en").
	Prompt(ctx context.Context, tenantID int64, lang, name string) (audio.Sound, error)
}

// Prompt names the attendant uses besides each menu's greeting.
const (
	PromptGreeting    = "attendant-greeting"
	PromptClosed      = "attendant-closed"
	PromptInvalid     = "invalid-choice"
	PromptNoInput     = "no-input"
	PromptUnavailable = "unavailable"
	PromptGoodbye     = "goodbye"
)

// Attendant runs menus.
type Attendant struct {
	db      *store.DB
	prompts atomic.Pointer[Prompts]
	log     *slog.Logger
	// Now is the clock business hours are judged by (tests move it).
	Now func() time.Time
}

var (
	_ call.App    = (*Attendant)(nil)
	_ call.Router = (*Attendant)(nil)
)

// New returns an attendant over the store and a prompt set.
func New(db *store.DB, prompts Prompts, log *slog.Logger) *Attendant {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Attendant{db: db, log: log.With("component", "attendant"), Now: time.Now}
	a.UsePrompts(prompts)
	return a
}

// UsePrompts replaces the prompt set (tests play tones of known frequencies).
func (a *Attendant) UsePrompts(p Prompts) { a.prompts.Store(&p) }

// Register adds the attendant to the call model's applications.
func (a *Attendant) Register(apps *call.Apps) { apps.Register(AppName, a, a) }

// RouteApp implements call.Router: an attendant number runs its menu.
func (a *Attendant) RouteApp(ctx context.Context, tenantID int64, number string) (call.Route, bool, error) {
	m, err := a.db.MenuByNumber(ctx, tenantID, number)
	if errors.Is(err, store.ErrNotFound) {
		return call.Route{}, false, nil
	}
	if err != nil {
		return call.Route{}, false, fmt.Errorf("attendant: %w", err)
	}
	return call.Route{App: AppName, Arg: m.Name}, true, nil
}

// session is one caller's way through the menus.
type session struct {
	a      *Attendant
	h      *call.Handle
	tenant store.Tenant
	lang   string
	log    *slog.Logger
}

// Run implements call.App: arg is the first menu's name.
func (a *Attendant) Run(ctx context.Context, h *call.Handle, arg string) error {
	info := h.Info()
	t, err := a.db.Tenant(ctx, info.TenantID)
	if err != nil {
		return fmt.Errorf("attendant: tenant: %w", err)
	}
	if err := h.Answer(ctx); err != nil {
		return err
	}
	s := &session{a: a, h: h, tenant: t, log: a.log.With("call_id", info.CallID, "tenant", t.ID)}
	name := arg
	for hop := 0; hop < MaxHops; hop++ {
		m, err := s.load(ctx, name)
		if err != nil {
			s.log.Warn("menu unavailable", "menu", name, "err", err)
			s.play(ctx, PromptUnavailable)
			return s.goodbye(ctx)
		}
		d := s.menu(ctx, m)
		if ctx.Err() != nil {
			return call.ErrHungUp
		}
		switch d.Type {
		case "menu":
			name = d.Target
		case "extension", "group", "number", "mailbox":
			number := d.Target
			if d.Type == "mailbox" {
				number = voicemail.DirectPrefix + d.Target
			}
			err := h.Bridge(ctx, number, audio.Tones(s.lang).Ringback)
			if err == nil {
				return nil
			}
			if errors.Is(err, call.ErrHungUp) || ctx.Err() != nil {
				return call.ErrHungUp
			}
			s.log.Info("destination not reached", "err", err)
			s.play(ctx, PromptUnavailable)
		default: // hangup
			return s.goodbye(ctx)
		}
	}
	s.log.Info("caller passed too many menus")
	return s.goodbye(ctx)
}

func (s *session) load(ctx context.Context, name string) (Menu, error) {
	row, err := s.a.db.MenuByName(ctx, s.tenant.ID, name)
	if err != nil {
		return Menu{}, err
	}
	var m Menu
	if err := json.Unmarshal(row.Spec, &m); err != nil {
		return Menu{}, err
	}
	s.lang = m.Language
	if s.lang == "" {
		s.lang = "en"
		if s.tenant.RetentionPreset == "de" {
			s.lang = "de"
		}
	}
	return m, nil
}

// prompt returns a prompt, or nothing when the prompt set lacks it.
func (s *session) prompt(ctx context.Context, name string) audio.Sound {
	snd, err := (*s.a.prompts.Load()).Prompt(ctx, s.tenant.ID, s.lang, name)
	if err != nil {
		s.log.Warn("prompt missing", "prompt", name, "lang", s.lang, "err", err)
		return audio.Silence(200 * time.Millisecond)
	}
	return snd
}

func (s *session) play(ctx context.Context, name string) {
	_ = s.h.Play(ctx, s.prompt(ctx, name))
}

func (s *session) goodbye(ctx context.Context) error {
	s.play(ctx, PromptGoodbye)
	s.h.Hangup()
	return nil
}

// menu runs one menu and returns where the caller goes.
func (s *session) menu(ctx context.Context, m Menu) Destination {
	hangup := Destination{Type: "hangup"}
	if m.Calendar != "" && !s.open(ctx, m.Calendar) {
		g := m.ClosedGreeting
		if g == "" {
			g = PromptClosed
		}
		s.play(ctx, g)
		if m.Closed != nil {
			return *m.Closed
		}
		return hangup
	}
	greeting := m.Greeting
	if greeting == "" {
		greeting = PromptGreeting
	}
	timeout := time.Duration(m.TimeoutMS) * time.Millisecond
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	retries := m.Retries
	if retries == 0 {
		retries = 2
	}
	c := call.Collect{Max: 1, First: timeout, Prompts: []audio.Sound{s.prompt(ctx, greeting)}}
	if m.DialByExtension {
		c.Max, c.Inter, c.Terminator = MaxExtLen, 2*time.Second, '#'
	}
	for try := 0; try <= retries; try++ {
		digits, err := s.h.CollectDigits(ctx, c)
		switch {
		case errors.Is(err, call.ErrNoInput):
			if try < retries {
				s.play(ctx, PromptNoInput)
			}
			continue
		case err != nil:
			return hangup
		}
		if len(digits) == 1 {
			if d, ok := m.Options[digits]; ok {
				return d
			}
		}
		if m.DialByExtension && len(digits) > 1 {
			return Destination{Type: "extension", Target: digits}
		}
		if try < retries {
			s.play(ctx, PromptInvalid)
		}
		c.Flush = true
	}
	if m.Fallback != nil {
		return *m.Fallback
	}
	return hangup
}

// open judges the menu's calendar now; a missing calendar counts as open.
func (s *session) open(ctx context.Context, name string) bool {
	row, err := s.a.db.CalendarByName(ctx, s.tenant.ID, name)
	if err != nil {
		s.log.Warn("calendar unavailable", "calendar", name, "err", err)
		return true
	}
	var c Calendar
	if err := json.Unmarshal(row.Spec, &c); err != nil {
		return true
	}
	return c.Open(s.a.Now())
}
