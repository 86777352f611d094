package voicemail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/privox/privox/internal/audio"
	"github.com/privox/privox/internal/call"
	"github.com/privox/privox/internal/prompts"
	"github.com/privox/privox/internal/store"
)

// FeatureCode, dialled from an extension, opens that extension's own box; MainCode (the
// voicemail main number, also a DID's destination) asks which box first, from any phone.
const (
	FeatureCode = "*97"
	MainCode    = "*98"
)

// PINTries wrong PINs end a retrieval call (the box's lock-out counts them too).
const PINTries = 3

// Retrieval by phone: the caller's own box (FeatureCode from an extension), after its PIN
// (the lock-out of CheckPIN applies). A box without a PIN does not open by phone: the call
// cannot tell an extension's own phone from an outside caller presenting its number. Main
// menu: 1 listen, 3 greetings (1 unavailable, 2 busy, 3 the recorded name, * back), 4 change
// the PIN (twice, checked as the API checks it), * end. For each message: 1 again, 2 save
// (keep, and go on), 3 delete, 5 call the sender back (through the dial plan, as the caller's
// own call), 6 next.

type retrieval struct {
	s    *Service
	h    *call.Handle
	b    store.VoicemailBox
	lang string
	log  *slog.Logger
	who  Actor
}

func (s *Service) retrieve(ctx context.Context, h *call.Handle, main bool) error {
	info := h.Info()
	t, err := s.db.Tenant(ctx, info.TenantID)
	if err != nil {
		return fmt.Errorf("voicemail: tenant: %w", err)
	}
	var b store.VoicemailBox
	if !main {
		b, err = s.db.VoicemailBoxByNumber(ctx, info.TenantID, info.Caller)
	}
	if err := h.Answer(ctx); err != nil {
		return err
	}
	r := &retrieval{s: s, h: h, b: b, log: s.log.With("call_id", info.CallID, "tenant", info.TenantID), who: Actor{Name: "phone:" + info.Caller}}
	if main {
		r.lang = language(b, t)
		if b, err = r.askBox(ctx); err != nil || b.ID == 0 {
			if err == nil {
				r.play(ctx, prompts.Goodbye)
				h.Hangup()
			}
			return err
		}
		r.b = b
	}
	if errors.Is(err, store.ErrNotFound) {
		r.lang = language(b, t)
		r.play(ctx, prompts.InvalidExt, prompts.Goodbye)
		h.Hangup()
		return nil
	}
	if err != nil {
		return fmt.Errorf("voicemail: box of %s: %w", info.Caller, err)
	}
	r.lang = language(b, t)
	r.who.UserID = b.UserID
	r.log = r.log.With("box", b.ID)
	if ok, err := r.login(ctx); err != nil || !ok {
		if err == nil {
			r.play(ctx, prompts.Goodbye)
			h.Hangup()
		}
		return err
	}
	if err := r.announce(ctx); err != nil {
		return err
	}
	for {
		d, err := r.choose(ctx, 1, prompts.VMMainMenu)
		if err != nil {
			return err
		}
		switch d {
		case "1":
			err := r.listen(ctx)
			if errors.Is(err, errCalledBack) {
				return nil // the caller talks to the sender now
			}
			if err != nil {
				return err
			}
		case "3":
			if err := r.greetings(ctx); err != nil {
				return err
			}
		case "4":
			if err := r.changePIN(ctx); err != nil {
				return err
			}
		case "*", "":
			r.play(ctx, prompts.Goodbye)
			h.Hangup()
			return nil
		default:
			r.play(ctx, prompts.InvalidChoice)
		}
	}
}

func (r *retrieval) sound(ctx context.Context, names ...string) audio.Sound {
	return r.s.prompt(ctx, r.b.TenantID, r.lang, names...)
}

func (r *retrieval) play(ctx context.Context, names ...string) {
	_ = r.h.Play(ctx, r.sound(ctx, names...))
}

// choose plays prompts (barge-in) and returns the key pressed; "" after two silent tries.
func (r *retrieval) choose(ctx context.Context, max int, names ...string) (string, error) {
	return r.chooseSounds(ctx, max, r.sound(ctx, names...))
}

func (r *retrieval) chooseSounds(ctx context.Context, max int, snds ...audio.Sound) (string, error) {
	for try := 0; try < 2; try++ {
		d, err := r.h.CollectDigits(ctx, call.Collect{Max: max, Prompts: snds, First: 6 * time.Second, Terminator: '#'})
		switch {
		case errors.Is(err, call.ErrNoInput):
			continue
		case err != nil:
			return "", err
		}
		return d, nil
	}
	return "", nil
}

// askBox asks a caller of the main number which box to open (its extension number, ended by
// # or a pause); a zero box after three numbers that are none.
func (r *retrieval) askBox(ctx context.Context) (store.VoicemailBox, error) {
	info := r.h.Info()
	for try := 0; try < PINTries; try++ {
		n, err := r.choose(ctx, 16, prompts.VMEnterMailbox)
		if err != nil {
			return store.VoicemailBox{}, err
		}
		if n == "" {
			return store.VoicemailBox{}, nil
		}
		b, err := r.s.db.VoicemailBoxByNumber(ctx, info.TenantID, n)
		switch {
		case err == nil:
			return b, nil
		case errors.Is(err, store.ErrNotFound):
			r.play(ctx, prompts.InvalidExt)
		default:
			return store.VoicemailBox{}, fmt.Errorf("voicemail: box %s: %w", n, err)
		}
	}
	return store.VoicemailBox{}, nil
}

// login asks for the PIN; it reports whether the caller may go on.
func (r *retrieval) login(ctx context.Context) (bool, error) {
	p, err := r.s.db.VoicemailPIN(ctx, r.b.TenantID, r.b.ID)
	if err != nil {
		return false, err
	}
	if p.Hash == "" {
		r.log.Info("voicemail box has no PIN: not opened by phone")
		return false, nil
	}
	for try := 0; try < PINTries; try++ {
		pin, err := r.choose(ctx, MaxPINLength, prompts.VMEnterPIN)
		if err != nil {
			return false, err
		}
		err = r.s.CheckPIN(ctx, r.who, r.b, pin)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, ErrWrongPIN):
			r.play(ctx, prompts.VMWrongPIN)
		case errors.Is(err, ErrLocked):
			r.log.Info("voicemail box locked")
			return false, nil
		default:
			return false, err
		}
	}
	return false, nil
}

func (r *retrieval) announce(ctx context.Context) error {
	sum, err := r.s.Summary(ctx, r.b)
	if err != nil {
		return err
	}
	switch n := sum.Unread; {
	case n == 0:
		r.play(ctx, prompts.VMNoNewMessages)
	case n == 1:
		r.play(ctx, prompts.VMYouHave, prompts.VMOneNewMessage)
	default:
		num, err := prompts.Number(r.lang, min(n, 9999))
		if err != nil {
			return err
		}
		r.play(ctx, append(append([]string{prompts.VMYouHave}, num...), prompts.VMNewMessages)...)
	}
	return nil
}

// listen plays the box's messages, unread ones first, oldest first within each.
func (r *retrieval) listen(ctx context.Context) error {
	var all []store.VoicemailMessage
	for p := (store.Page{Limit: 1000}); ; {
		ms, err := r.s.Messages(ctx, r.b, p)
		if err != nil {
			return err
		}
		all = append(all, ms...)
		if len(ms) < p.Limit {
			break
		}
		p.After = ms[len(ms)-1].ID
	}
	var order []store.VoicemailMessage
	for _, m := range all {
		if m.ReadAt == 0 {
			order = append(order, m)
		}
	}
	for _, m := range all {
		if m.ReadAt != 0 {
			order = append(order, m)
		}
	}
	for i, m := range order {
		intro := prompts.VMNextMessage
		if i == 0 {
			intro = prompts.VMFirstMessage
		}
		msg, err := r.s.messageSound(ctx, m)
		if err != nil {
			r.log.Warn("message unreadable", "message", m.ID, "err", err)
			continue
		}
		if _, err := r.s.MarkRead(ctx, r.b, m.ID, true); err != nil {
			return err
		}
		snds := []audio.Sound{r.sound(ctx, intro), msg, r.sound(ctx, prompts.VMMessageOptions)}
	options:
		for {
			d, err := r.chooseSounds(ctx, 1, snds...)
			if err != nil {
				return err
			}
			switch d {
			case "1":
				snds = []audio.Sound{msg, r.sound(ctx, prompts.VMMessageOptions)}
			case "2":
				r.play(ctx, prompts.VMMessageSaved)
				break options
			case "3":
				if err := r.s.Delete(ctx, r.who, r.b, m.ID); err != nil {
					return err
				}
				r.play(ctx, prompts.VMMessageDeleted)
				break options
			case "5":
				if err := r.callBack(ctx, m); err != nil {
					return err
				}
				snds = []audio.Sound{r.sound(ctx, prompts.VMMessageOptions)}
			case "6", "":
				break options
			default:
				snds = []audio.Sound{r.sound(ctx, prompts.InvalidChoice, prompts.VMMessageOptions)}
			}
		}
	}
	r.play(ctx, prompts.VMNoMoreMessages)
	return nil
}

// messageSound decrypts a message for playing.
func (s *Service) messageSound(ctx context.Context, m store.VoicemailMessage) (audio.Sound, error) {
	data, _, err := s.files.Get(ctx, m.TenantID, m.FileID)
	if err != nil {
		return nil, err
	}
	pcm, err := audio.Import(bytes.NewReader(data), audio.ImportOptions{MaxDuration: MaxMessageSecs * time.Second, MaxBytes: 2*MaxMessageSecs*8000 + 1<<16})
	if err != nil {
		return nil, err
	}
	return audio.NewClip(audio.PCMU, pcm), nil
}

// greetings lets the caller record the box's greetings until * (or no choice).
func (r *retrieval) greetings(ctx context.Context) error {
	for {
		d, err := r.choose(ctx, 1, prompts.VMGreetingsMenu)
		if err != nil {
			return err
		}
		switch d {
		case "1":
			err = r.recordGreeting(ctx, SlotUnavailable, prompts.VMRecordGreeting)
		case "2":
			err = r.recordGreeting(ctx, SlotBusy, prompts.VMRecordBusy)
		case "3":
			err = r.recordGreeting(ctx, SlotName, prompts.VMRecordName)
		case "*", "":
			return nil
		default:
			r.play(ctx, prompts.InvalidChoice)
		}
		if err != nil {
			return err
		}
	}
}

// recordGreeting records one of the box's greetings after the beep, until '#' or silence.
func (r *retrieval) recordGreeting(ctx context.Context, slot, prompt string) error {
	if err := r.h.Play(ctx, r.sound(ctx, prompt), audio.Tones(r.lang).Beep); err != nil {
		return err
	}
	pcm, _, err := r.s.record(ctx, r.h, MaxGreeting, "")
	if err != nil {
		return err
	}
	if audio.Duration(len(pcm)) < r.s.opt.MinMessage {
		r.play(ctx, prompts.NoInput)
		return nil
	}
	if _, err := r.s.putGreetingPCM(ctx, r.who, r.b, slot, pcm); err != nil {
		return err
	}
	r.play(ctx, prompts.VMGreetingSaved)
	return nil
}

// changePIN asks for a new PIN twice and sets it when both agree and it has the form the
// API requires (audited as the phone's; never the PIN).
func (r *retrieval) changePIN(ctx context.Context) error {
	pin, err := r.choose(ctx, MaxPINLength, prompts.VMEnterNewPIN)
	if err != nil || pin == "" {
		return err
	}
	again, err := r.choose(ctx, MaxPINLength, prompts.VMRepeatPIN)
	if err != nil {
		return err
	}
	if again != pin || ValidPIN(pin) != nil {
		r.log.Info("voicemail PIN not changed by phone")
		r.play(ctx, prompts.VMPINNotChanged)
		return nil
	}
	if err := r.s.SetPIN(ctx, r.who, r.b, pin); err != nil {
		return err
	}
	r.play(ctx, prompts.VMPINChanged)
	return nil
}

// errCalledBack ends the listening: the caller was connected to a message's sender.
var errCalledBack = errors.New("voicemail: caller connected to the sender")

// callBack connects the caller to a message's sender through the dial plan, as if the
// caller had dialled the number (outbound routes and the toll-fraud guard apply). Without a
// number, or when the sender is not reached, the caller hears so and stays in the box.
func (r *retrieval) callBack(ctx context.Context, m store.VoicemailMessage) error {
	n := m.CallerNumber
	if n == "" || n == "anonymous" {
		r.play(ctx, prompts.VMNoCallBack)
		return nil
	}
	r.log.Info("calling a message's sender back", "message", m.ID)
	err := r.h.Bridge(ctx, n, audio.Tones(r.lang).Ringback)
	switch {
	case err == nil:
		return errCalledBack
	case errors.Is(err, call.ErrHungUp) || ctx.Err() != nil:
		return call.ErrHungUp
	}
	r.log.Info("sender not reached", "message", m.ID, "err", err)
	r.play(ctx, prompts.NotAvailable)
	return nil
}
