// Package voicemail owns voicemail: a box per extension (settings, PIN, greetings), the
// deposit application of the call model that answers calls the SIP core diverts when the
// callee is not registered, busy or does not answer, and the messages it stores as encrypted
// WAV files (filestore, kind "voicemail") with an index row each. It resolves the numbers
// that reach a box for the dial plan (dialplan.Mailboxes) and tells the SIP core which
// unanswered calls it takes (sip.Diverter). Retention is the privacy engine's: each message
// row carries its box's expiry, and the sweeper removes rows and files together.
package voicemail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/privox/privox/internal/audio"
	"github.com/privox/privox/internal/call"
	"github.com/privox/privox/internal/credential"
	"github.com/privox/privox/internal/dialplan"
	"github.com/privox/privox/internal/filestore"
	"github.com/privox/privox/internal/prompts"
	"github.com/privox/privox/internal/store"
)

// AppName is the voicemail application's name in the call model's registry.
const AppName = "voicemail"

// DirectPrefix dialled before an extension number leaves a message in its box without
// ringing it ("*1001").
const DirectPrefix = "*"

// Greeting slots.
const (
	SlotUnavailable = "unavailable"
	SlotBusy        = "busy"
	SlotName        = "name"
)

// Slots are the greeting slots a box has.
var Slots = []string{SlotUnavailable, SlotBusy, SlotName}

// Limits of box settings and PINs.
const (
	MinPINLength = 4
	MaxPINLength = 16
	// MaxPINFailures wrong PINs in a row lock the box for LockFor.
	MaxPINFailures = 5
	LockFor        = 15 * time.Minute

	DefaultRetentionDays = 90 // SPEC §2: voicemail per box, default 90 days
	MaxRetentionDays     = 3650
	MinMessageSecs       = 10
	MaxMessageSecs       = 3600
	MaxMessagesPerBox    = 10000
	// MaxGreeting is the longest greeting a box takes.
	MaxGreeting = 2 * time.Minute
)

// Prompts gives voicemail its system prompts (prompts.Library implements it).
type Prompts interface {
	Sound(ctx context.Context, tenantID int64, lang string, names ...string) (audio.Sound, error)
}

// Options tune the deposit.
type Options struct {
	// Silence ends a recording once this much silence followed speech (default 5 s).
	Silence time.Duration
	// MinMessage: shorter recordings are discarded (default 1 s).
	MinMessage time.Duration
}

// Service is the voicemail engine.
type Service struct {
	db      *store.DB
	files   *filestore.Store
	prompts atomic.Pointer[Prompts]
	log     *slog.Logger
	opt     Options
	// Now is the clock messages are stamped with (tests move it).
	Now func() time.Time
	// onChange are told of changes of a box's messages (set at start-up).
	onChange []func(tenantID int64, number string)
	// mailer sends e-mail copies (UseMail); nil: none are queued.
	mailer atomic.Pointer[Mailer]
}

var (
	_ call.App           = (*Service)(nil)
	_ dialplan.Mailboxes = (*Service)(nil)
)

// New returns the voicemail engine over the store, the content files and a prompt set.
func New(db *store.DB, files *filestore.Store, p Prompts, log *slog.Logger, opt Options) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opt.Silence <= 0 {
		opt.Silence = 5 * time.Second
	}
	if opt.MinMessage <= 0 {
		opt.MinMessage = time.Second
	}
	s := &Service{db: db, files: files, log: log.With("component", "voicemail"), opt: opt, Now: time.Now}
	s.UsePrompts(p)
	return s
}

// UsePrompts replaces the prompt set.
func (s *Service) UsePrompts(p Prompts) { s.prompts.Store(&p) }

// Register adds the deposit application to the call model's applications.
func (s *Service) Register(apps *call.Apps) { apps.Register(AppName, s, nil) }

// route arguments: "deposit:<reason>:<extension>".
func depositArg(reason, number string) string { return "deposit:" + reason + ":" + number }

// Mailbox implements dialplan.Mailboxes: FeatureCode opens the caller's own box;
// DirectPrefix + an extension number leaves a message in that extension's box.
func (s *Service) Mailbox(ctx context.Context, tenantID int64, number string) (call.Route, bool, error) {
	switch number {
	case FeatureCode:
		return call.Route{App: AppName, Arg: "retrieve"}, true, nil
	case MainCode:
		return call.Route{App: AppName, Arg: "retrieve-main"}, true, nil
	}
	n, ok := strings.CutPrefix(number, DirectPrefix)
	if !ok || n == "" {
		return call.Route{}, false, nil
	}
	if _, err := s.db.ExtensionByNumber(ctx, tenantID, n); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return call.Route{}, false, nil
		}
		return call.Route{}, false, fmt.Errorf("voicemail: %w", err)
	}
	return call.Route{App: AppName, Arg: depositArg(SlotUnavailable, n)}, true, nil
}

// Divert implements sip.Diverter: an enabled box takes its extension's unanswered calls;
// busy (486, 600) plays the busy greeting, anything else the unavailable one.
func (s *Service) Divert(ctx context.Context, tenantID int64, number string, status int) (call.Route, bool, error) {
	switch status {
	case 480, 408, 486, 600, 603, 404, 410, 503:
	default:
		return call.Route{}, false, nil
	}
	b, err := s.db.VoicemailBoxByNumber(ctx, tenantID, number)
	if errors.Is(err, store.ErrNotFound) {
		return call.Route{}, false, nil
	}
	if err != nil {
		return call.Route{}, false, fmt.Errorf("voicemail: %w", err)
	}
	if !b.Enabled {
		return call.Route{}, false, nil
	}
	reason := SlotUnavailable
	if status == 486 || status == 600 {
		reason = SlotBusy
	}
	return call.Route{App: AppName, Arg: depositArg(reason, number)}, true, nil
}

// Run implements call.App.
func (s *Service) Run(ctx context.Context, h *call.Handle, arg string) error {
	parts := strings.SplitN(arg, ":", 3)
	if len(parts) == 3 && parts[0] == "deposit" {
		return s.deposit(ctx, h, parts[1], parts[2])
	}
	switch arg {
	case "retrieve":
		return s.retrieve(ctx, h, false)
	case "retrieve-main":
		return s.retrieve(ctx, h, true)
	}
	return fmt.Errorf("voicemail: unknown route argument %q", arg)
}

// language is the box's language, else the tenant's (German for the de preset).
func language(b store.VoicemailBox, t store.Tenant) string {
	if b.Language != "" {
		return b.Language
	}
	if t.RetentionPreset == "de" {
		return "de"
	}
	return "en"
}

// prompt returns a prompt sequence, or a short silence when the prompt set lacks it.
func (s *Service) prompt(ctx context.Context, tenantID int64, lang string, names ...string) audio.Sound {
	p := *s.prompts.Load()
	if p != nil {
		snd, err := p.Sound(ctx, tenantID, lang, names...)
		if err == nil {
			return snd
		}
		s.log.Warn("prompt missing", "prompts", strings.Join(names, ","), "lang", lang, "err", err)
	}
	return audio.Silence(300 * time.Millisecond)
}

// greetingSound returns a box's recorded greeting of a slot, if there is one.
func (s *Service) greetingSound(ctx context.Context, b store.VoicemailBox, slot string) (audio.Sound, bool) {
	g, err := s.db.VoicemailGreeting(ctx, b.TenantID, b.ID, slot)
	if err != nil {
		return nil, false
	}
	data, _, err := s.files.Get(ctx, b.TenantID, g.FileID)
	if err != nil {
		s.log.Warn("greeting unreadable", "box", b.ID, "slot", slot, "err", err)
		return nil, false
	}
	pcm, err := audio.Import(bytes.NewReader(data), audio.ImportOptions{MaxDuration: MaxGreeting})
	if err != nil {
		return nil, false
	}
	return audio.NewClip(audio.PCMU, pcm), true
}

// greeting is what a caller hears before the beep: the box's greeting for the reason, else
// its unavailable greeting, else the recorded name or the extension number in the generated
// "the person at extension … is not available / on the phone", then "leave a message".
func (s *Service) greeting(ctx context.Context, b store.VoicemailBox, reason, lang string) audio.Sound {
	if reason == SlotBusy {
		if g, ok := s.greetingSound(ctx, b, SlotBusy); ok {
			return g
		}
	}
	if g, ok := s.greetingSound(ctx, b, SlotUnavailable); ok {
		return g
	}
	state := prompts.VMIsUnavailable
	if reason == SlotBusy {
		state = prompts.VMIsBusy
	}
	var who audio.Sound
	if g, ok := s.greetingSound(ctx, b, SlotName); ok {
		who = g
	} else {
		digits, err := prompts.Digits(b.Number)
		if err != nil {
			digits = nil
		}
		who = s.prompt(ctx, b.TenantID, lang, append([]string{prompts.VMPersonAtExt}, digits...)...)
	}
	return audio.Sequence(who, s.prompt(ctx, b.TenantID, lang, state, prompts.VMLeaveMessage))
}

// ReRecordKey pressed while recording discards the recording and starts again after a new
// beep (at most MaxReRecords times); any other key ends the message.
const (
	ReRecordKey  = '*'
	MaxReRecords = 3
)

// OperatorKey pressed during the greeting or the recording leaves voicemail for the box's
// operator (Settings.Operator, else the tenant's); what was recorded is discarded. Without an
// operator the key is ignored.
const OperatorKey = '0'

// toOperator connects the caller to the operator number through the dial plan, as the
// auto attendant connects a caller to an extension. done: the caller left voicemail (or
// hung up); else the operator was not reached, the caller heard so and stays.
func (s *Service) toOperator(ctx context.Context, h *call.Handle, log *slog.Logger, op, lang string) (bool, error) {
	log.Info("caller asked for the operator")
	err := h.Bridge(ctx, op, audio.Tones(lang).Ringback)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, call.ErrHungUp) || ctx.Err() != nil {
		return true, call.ErrHungUp
	}
	log.Info("operator not reached", "err", err)
	info := h.Info()
	_ = h.Play(ctx, s.prompt(ctx, info.TenantID, lang, prompts.NotAvailable))
	return false, nil
}

// ErrBoxFull: the box holds as many messages as it may.
var ErrBoxFull = errors.New("voicemail: mailbox full")

func (s *Service) deposit(ctx context.Context, h *call.Handle, reason, number string) error {
	info := h.Info()
	log := s.log.With("call_id", info.CallID, "tenant", info.TenantID)
	t, err := s.db.Tenant(ctx, info.TenantID)
	if err != nil {
		return fmt.Errorf("voicemail: tenant: %w", err)
	}
	b, err := s.db.VoicemailBoxByNumber(ctx, info.TenantID, number)
	if err != nil {
		return fmt.Errorf("voicemail: box of %s: %w", number, err)
	}
	log = log.With("box", b.ID)
	lang := language(b, t)
	total, _, err := s.db.CountVoicemailMessages(ctx, b.TenantID, b.ID)
	if err != nil {
		return fmt.Errorf("voicemail: count: %w", err)
	}
	if err := h.Answer(ctx); err != nil {
		return err
	}
	if total >= b.MaxMessages {
		log.Info("mailbox full", "messages", total)
		_ = h.Play(ctx, s.prompt(ctx, b.TenantID, lang, prompts.VMMailboxFull, prompts.Goodbye))
		h.Hangup()
		return nil
	}
	op, err := s.operator(ctx, b)
	if err != nil {
		return fmt.Errorf("voicemail: operator: %w", err)
	}
	// Without an operator the operator key is no key at all: it neither ends nor
	// interrupts anything.
	var ignore string
	if op == "" {
		ignore = string(OperatorKey)
	}
	// A caller who hangs up during the greeting or the beep leaves nothing.
	greeting := s.greeting(ctx, b, reason, lang)
	if op == "" {
		err = h.Play(ctx, greeting)
	} else {
		// The greeting listens for the operator key; another key skips to the beep.
		var d string
		d, err = h.CollectDigits(ctx, call.Collect{Max: 1, Prompts: []audio.Sound{greeting}, First: time.Millisecond, Flush: true})
		if errors.Is(err, call.ErrNoInput) {
			err = nil
		}
		if err == nil && d == string(OperatorKey) {
			if done, err := s.toOperator(ctx, h, log, op, lang); done || err != nil {
				return err
			}
		}
	}
	if err != nil {
		return err
	}
	if err := h.Play(ctx, audio.Tones(lang).Beep); err != nil {
		return err
	}
	var (
		start  time.Time
		pcm    []int16
		key    rune
		hungUp bool
	)
	for try := 0; ; try++ {
		start = s.Now()
		pcm, key, err = s.record(ctx, h, time.Duration(b.MaxMessageSecs)*time.Second, ignore)
		hungUp = errors.Is(err, call.ErrHungUp)
		if err != nil && !hungUp {
			return err
		}
		if key == OperatorKey && !hungUp {
			// What was said so far goes: nothing of it was stored.
			if done, err := s.toOperator(ctx, h, log, op, lang); done || err != nil {
				return err
			}
			if try >= MaxReRecords {
				break
			}
			if err := h.Play(ctx, audio.Tones(lang).Beep); err != nil {
				return err
			}
			continue
		}
		if key != ReRecordKey || hungUp || try >= MaxReRecords {
			break
		}
		// The caller starts over: what was said goes, and a new beep starts the recording.
		if err := h.Play(ctx, audio.Tones(lang).Beep); err != nil {
			return err
		}
	}
	if key != 0 {
		// The key's own tone may be in the last frames: drop them.
		pcm = pcm[:max(0, len(pcm)-audio.Samples(200*time.Millisecond))]
	}
	d := audio.Duration(len(pcm))
	if d < s.opt.MinMessage {
		log.Info("message too short, discarded", "duration_ms", d.Milliseconds())
		if !hungUp {
			_ = h.Play(ctx, s.prompt(ctx, b.TenantID, lang, prompts.Goodbye))
			h.Hangup()
		}
		return nil
	}
	caller := info.Caller
	name := ""
	if e, err := s.db.ExtensionByNumber(context.WithoutCancel(ctx), info.TenantID, caller); err == nil {
		name = e.DisplayName
	}
	// The message is stored whether or not the caller is still there: hanging up is how
	// most callers end a message. The store's context is not the call's.
	m, err := s.Store(context.WithoutCancel(ctx), b, Deposit{CallerNumber: caller, CallerName: name, At: start, PCM: pcm})
	if err != nil {
		return err
	}
	log.Info("message stored", "message", m.ID, "duration_ms", m.DurationMS)
	if !hungUp {
		_ = h.Play(ctx, s.prompt(ctx, b.TenantID, lang, "thank-you", prompts.Goodbye))
		h.Hangup()
	}
	return nil
}

// record records the caller until hang-up, silence after speech, max, or a key ('#' or any
// other but those in ignore); it returns the audio, the key that ended it (0 for none) and ErrHungUp when the
// caller hung up.
func (s *Service) record(ctx context.Context, h *call.Handle, max time.Duration, ignore string) ([]int16, rune, error) {
	if max <= 0 {
		max = 180 * time.Second
	}
	// The sink runs on the media goroutine, which may still hold it for a frame after Record
	// returned: it appends under a lock and stops once closed.
	// The audio gathers in chunks of a second, so that a call holds what it recorded, not
	// the longest message it might record, and growing never copies what is there.
	var mu sync.Mutex
	closed := false
	var chunks [][]int16
	n, limit, chunk := 0, audio.Samples(max), audio.Samples(time.Second)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var key atomic.Int32
	keys := make(chan struct{})
	go func() {
		defer close(keys)
		flush := true
		for {
			d, err := h.CollectDigits(rctx, call.Collect{Max: 1, First: max + time.Minute, Flush: flush})
			if err != nil || d == "" {
				return
			}
			if strings.Contains(ignore, d) {
				flush = false
				continue
			}
			key.Store(int32([]rune(d)[0]))
			cancel()
			return
		}
	}()
	err := h.Record(rctx, max, s.opt.Silence, func(f []int16) {
		mu.Lock()
		defer mu.Unlock()
		if closed {
			return
		}
		if n+len(f) > limit {
			f = f[:limit-n]
		}
		n += len(f)
		for len(f) > 0 {
			if len(chunks) == 0 || len(chunks[len(chunks)-1]) == chunk {
				chunks = append(chunks, make([]int16, 0, chunk))
			}
			c := &chunks[len(chunks)-1]
			take := min(len(f), chunk-len(*c))
			*c = append(*c, f[:take]...)
			f = f[take:]
		}
	})
	cancel()
	<-keys
	mu.Lock()
	closed = true
	buf := make([]int16, 0, n)
	for _, c := range chunks {
		buf = append(buf, c...)
	}
	mu.Unlock()
	k := rune(key.Load())
	if err != nil && k != 0 && !errors.Is(err, call.ErrHungUp) {
		err = nil
	}
	return buf, k, err
}

// Deposit is a message to store.
type Deposit struct {
	CallerNumber, CallerName string
	At                       time.Time
	Urgent                   bool
	PCM                      []int16 // 8 kHz mono
}

// Store saves a message in a box: the encrypted WAV and its row appear together or not at
// all (filestore.Put links the row in the transaction that completes the file).
func (s *Service) Store(ctx context.Context, b store.VoicemailBox, d Deposit) (store.VoicemailMessage, error) {
	raw := make([]byte, 2*len(d.PCM))
	for i, x := range d.PCM {
		raw[2*i], raw[2*i+1] = byte(x), byte(uint16(x)>>8)
	}
	wav, err := audio.EncodeWAV(audio.Format{Encoding: audio.LinearPCM16, Rate: audio.Rate, Channels: 1}, raw)
	if err != nil {
		return store.VoicemailMessage{}, fmt.Errorf("voicemail: encode: %w", err)
	}
	at := d.At.UnixMilli()
	m := store.VoicemailMessage{TenantID: b.TenantID, BoxID: b.ID, UserID: b.UserID, CallerNumber: d.CallerNumber, CallerName: d.CallerName,
		CreatedAt: at, DurationMS: audio.Duration(len(d.PCM)).Milliseconds(), Urgent: d.Urgent, ExpiresAt: at + int64(b.RetentionDays)*24*3600*1000}
	mailer, queued := s.mailer.Load(), false
	_, err = s.files.Put(ctx, b.TenantID, b.UserID, filestore.KindVoicemail, wav, at, func(tx *store.DB, f store.ContentFile) error {
		total, _, err := tx.CountVoicemailMessages(ctx, b.TenantID, b.ID)
		if err != nil {
			return err
		}
		if total >= b.MaxMessages {
			return ErrBoxFull
		}
		m.FileID = f.ID
		if m, err = tx.InsertVoicemailMessage(ctx, m); err != nil {
			return err
		}
		// The e-mail copy is queued with the message: both are stored or neither.
		if b.EmailCopy && mailer.flowOn() {
			queued = true
			_, err = tx.EnqueueVoicemailMail(ctx, m, s.Now().UnixMilli())
		}
		return err
	})
	if err != nil {
		return m, fmt.Errorf("voicemail: store message: %w", err)
	}
	if queued {
		mailer.Wake()
	}
	s.changed(b)
	return m, nil
}

// itoa formats an id for audit entries.
func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// hashPIN checks a PIN's form and hashes it.
func hashPIN(pin string) (string, error) {
	if err := ValidPIN(pin); err != nil {
		return "", err
	}
	return credential.HashPassword(pin)
}
