package voicemail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/privox/privox/internal/audio"
	"github.com/privox/privox/internal/credential"
	"github.com/privox/privox/internal/filestore"
	"github.com/privox/privox/internal/store"
)

// FieldError is invalid input, naming the field at fault.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Actor is who does something, for the audit log.
type Actor struct {
	UserID *int64
	Name   string // "user:12", "cli", "system", "phone"
	IP     string
}

func (s *Service) audit(ctx context.Context, a Actor, tenantID int64, action, typ, id, detail string) error {
	_, err := s.db.AppendAudit(context.WithoutCancel(ctx), store.AuditEntry{TenantID: &tenantID, At: s.Now().UnixMilli(), ActorUserID: a.UserID,
		Actor: a.Name, Action: action, TargetType: typ, TargetID: id, SourceIP: a.IP, Detail: detail})
	if err != nil {
		return fmt.Errorf("voicemail: audit: %w", err)
	}
	return nil
}

// ValidPIN checks a PIN's form: MinPINLength to MaxPINLength digits.
func ValidPIN(pin string) error {
	if len(pin) < MinPINLength || len(pin) > MaxPINLength {
		return fieldErr("pin", "must be %d to %d digits", MinPINLength, MaxPINLength)
	}
	for _, c := range pin {
		if c < '0' || c > '9' {
			return fieldErr("pin", "must be digits only")
		}
	}
	return nil
}

// Box returns the box of an extension number (creating it if need be).
func (s *Service) Box(ctx context.Context, tenantID int64, number string) (store.VoicemailBox, error) {
	return s.db.VoicemailBoxByNumber(ctx, tenantID, number)
}

// BoxByID returns a box by id.
func (s *Service) BoxByID(ctx context.Context, tenantID, id int64) (store.VoicemailBox, error) {
	return s.db.VoicemailBox(ctx, tenantID, id)
}

// Settings are the changeable settings of a box; nil fields stay as they are.
type Settings struct {
	// Enabled lets the box take the extension's unanswered calls.
	Enabled        *bool   `json:"enabled,omitempty"`
	Language       *string `json:"language,omitempty"`
	MaxMessageSecs *int    `json:"max_message_secs,omitempty"`
	MaxMessages    *int    `json:"max_messages,omitempty"`
	RetentionDays  *int    `json:"retention_days,omitempty"`
	// EmailCopy mails each new message to the owner's e-mail address; EmailAttach attaches
	// the WAV (else a notice without audio); EmailDelete removes the message from the box
	// once the relay accepted the e-mail.
	EmailCopy   *bool `json:"email_copy,omitempty"`
	EmailAttach *bool `json:"email_attach,omitempty"`
	EmailDelete *bool `json:"email_delete,omitempty"`
	// MWIUnsolicited tells the extension's registered phones of every change without a
	// subscription (phones configured for unsolicited message-waiting NOTIFYs).
	MWIUnsolicited *bool `json:"mwi_unsolicited,omitempty"`
	// Operator is the number (an extension or a group) a caller reaches by pressing 0 while
	// leaving a message; "" uses the tenant's operator.
	Operator *string `json:"operator,omitempty"`
}

// Configure validates and applies settings (audited).
func (s *Service) Configure(ctx context.Context, a Actor, b store.VoicemailBox, set Settings) (store.VoicemailBox, error) {
	if set.Enabled != nil {
		b.Enabled = *set.Enabled
	}
	if set.Language != nil {
		if *set.Language != "" && *set.Language != "en" && *set.Language != "de" {
			return b, fieldErr("language", "must be en, de or empty (the tenant's language)")
		}
		b.Language = *set.Language
	}
	if set.MaxMessageSecs != nil {
		if *set.MaxMessageSecs < MinMessageSecs || *set.MaxMessageSecs > MaxMessageSecs {
			return b, fieldErr("max_message_secs", "must be %d to %d", MinMessageSecs, MaxMessageSecs)
		}
		b.MaxMessageSecs = *set.MaxMessageSecs
	}
	if set.MaxMessages != nil {
		if *set.MaxMessages < 1 || *set.MaxMessages > MaxMessagesPerBox {
			return b, fieldErr("max_messages", "must be 1 to %d", MaxMessagesPerBox)
		}
		b.MaxMessages = *set.MaxMessages
	}
	if set.RetentionDays != nil {
		if *set.RetentionDays < 1 || *set.RetentionDays > MaxRetentionDays {
			return b, fieldErr("retention_days", "must be 1 to %d", MaxRetentionDays)
		}
		b.RetentionDays = *set.RetentionDays
	}
	if set.EmailCopy != nil {
		b.EmailCopy = *set.EmailCopy
	}
	if set.EmailAttach != nil {
		b.EmailAttach = *set.EmailAttach
	}
	if set.EmailDelete != nil {
		b.EmailDelete = *set.EmailDelete
	}
	if set.MWIUnsolicited != nil {
		b.MWIUnsolicited = *set.MWIUnsolicited
	}
	if set.Operator != nil {
		if err := ValidOperator(*set.Operator); err != nil {
			return b, err
		}
		b.Operator = *set.Operator
	}
	if b.EmailDelete && !b.EmailCopy {
		return b, fieldErr("email_delete", "deleting messages after their e-mail needs email_copy on")
	}
	if err := s.db.UpdateVoicemailBox(ctx, b); err != nil {
		return b, err
	}
	if err := s.audit(ctx, a, b.TenantID, "voicemail.configure", "voicemail_box", itoa(b.ID),
		fmt.Sprintf("enabled=%t language=%q max_message_secs=%d max_messages=%d retention_days=%d email_copy=%t email_attach=%t email_delete=%t mwi_unsolicited=%t operator=%q",
			b.Enabled, b.Language, b.MaxMessageSecs, b.MaxMessages, b.RetentionDays, b.EmailCopy, b.EmailAttach, b.EmailDelete, b.MWIUnsolicited, b.Operator)); err != nil {
		return b, err
	}
	return s.db.VoicemailBox(ctx, b.TenantID, b.ID)
}

// MaxOperatorLength bounds an operator number.
const MaxOperatorLength = 32

// ValidOperator checks an operator number's form: "" (none) or up to MaxOperatorLength
// digits, '*' and '#', as a phone dials them. Whether it reaches anyone is the dial plan's
// business at the time of the call (an extension, a group, or nothing: then 0 does nothing).
func ValidOperator(n string) error {
	if len(n) > MaxOperatorLength {
		return fieldErr("operator", "must be at most %d keys", MaxOperatorLength)
	}
	for _, c := range n {
		if (c < '0' || c > '9') && c != '*' && c != '#' {
			return fieldErr("operator", "must be an extension or group number (digits, * and #), or empty for none")
		}
	}
	return nil
}

// TenantSettings returns a tenant's voicemail defaults.
func (s *Service) TenantSettings(ctx context.Context, tenantID int64) (store.VoicemailSettings, error) {
	return s.db.VoicemailSettings(ctx, tenantID)
}

// SetTenantOperator sets the operator number of a tenant's boxes that have none of their
// own ("" for none; audited).
func (s *Service) SetTenantOperator(ctx context.Context, a Actor, tenantID int64, operator string) (store.VoicemailSettings, error) {
	if err := ValidOperator(operator); err != nil {
		return store.VoicemailSettings{}, err
	}
	v, err := s.db.PutVoicemailSettings(ctx, store.VoicemailSettings{TenantID: tenantID, Operator: operator})
	if err != nil {
		return v, err
	}
	return v, s.audit(ctx, a, tenantID, "voicemail.settings", "tenant", itoa(tenantID), fmt.Sprintf("operator=%q", operator))
}

// operator is the number 0 reaches from a box's deposit: the box's own, else the tenant's.
func (s *Service) operator(ctx context.Context, b store.VoicemailBox) (string, error) {
	if b.Operator != "" {
		return b.Operator, nil
	}
	v, err := s.db.VoicemailSettings(ctx, b.TenantID)
	return v.Operator, err
}

// SetPIN sets a box's PIN ("" removes it) and unlocks the box (audited; never the PIN).
func (s *Service) SetPIN(ctx context.Context, a Actor, b store.VoicemailBox, pin string) error {
	hash := ""
	if pin != "" {
		var err error
		if hash, err = hashPIN(pin); err != nil {
			return err
		}
	}
	if err := s.db.SetVoicemailPIN(ctx, b, hash); err != nil {
		return err
	}
	action := "voicemail.pin_set"
	if pin == "" {
		action = "voicemail.pin_reset"
	}
	return s.audit(ctx, a, b.TenantID, action, "voicemail_box", itoa(b.ID), "")
}

// ChangePIN replaces a PIN after checking the current one (a user's own change).
func (s *Service) ChangePIN(ctx context.Context, a Actor, b store.VoicemailBox, current, pin string) error {
	if err := ValidPIN(pin); err != nil {
		return err
	}
	if err := s.CheckPIN(ctx, a, b, current); err != nil {
		if errors.Is(err, ErrWrongPIN) {
			return fieldErr("current_pin", "is not correct")
		}
		return err
	}
	return s.SetPIN(ctx, a, b, pin)
}

// PIN check outcomes.
var (
	ErrWrongPIN = errors.New("voicemail: wrong PIN")
	ErrLocked   = errors.New("voicemail: box locked after too many wrong PINs")
	ErrNoPIN    = errors.New("voicemail: no PIN set")
)

// CheckPIN verifies a PIN. MaxPINFailures wrong PINs in a row lock the box for LockFor;
// wrong PINs and the lock are audited. A box without a PIN refuses every PIN (ErrNoPIN).
func (s *Service) CheckPIN(ctx context.Context, a Actor, b store.VoicemailBox, pin string) error {
	p, err := s.db.VoicemailPIN(ctx, b.TenantID, b.ID)
	if err != nil {
		return err
	}
	now := s.Now().UnixMilli()
	if p.LockedUntil > now {
		return ErrLocked
	}
	if p.Hash == "" {
		return ErrNoPIN
	}
	if err := credential.VerifyPasswordContext(ctx, p.Hash, pin); err == nil {
		if p.Failures > 0 || p.LockedUntil > 0 {
			return s.db.VoicemailPINPassed(ctx, b)
		}
		return nil
	} else if ctx.Err() != nil {
		return ctx.Err()
	}
	until := now + LockFor.Milliseconds()
	n, err := s.db.VoicemailPINFailed(ctx, b, MaxPINFailures, until)
	if err != nil {
		return err
	}
	if n >= MaxPINFailures {
		if err := s.audit(ctx, a, b.TenantID, "voicemail.locked", "voicemail_box", itoa(b.ID), fmt.Sprintf("failures=%d locked_for=%s", n, LockFor)); err != nil {
			return err
		}
		return ErrLocked
	}
	if err := s.audit(ctx, a, b.TenantID, "voicemail.pin_failed", "voicemail_box", itoa(b.ID), fmt.Sprintf("failures=%d", n)); err != nil {
		return err
	}
	return ErrWrongPIN
}

// PutGreeting stores an uploaded greeting (a WAV file, or raw G.711 when raw is set) in a
// slot, replacing the slot's earlier one.
func (s *Service) PutGreeting(ctx context.Context, a Actor, b store.VoicemailBox, slot string, r io.Reader) (store.VoicemailGreeting, error) {
	if !slices.Contains(Slots, slot) {
		return store.VoicemailGreeting{}, fieldErr("slot", "must be one of %v", Slots)
	}
	pcm, err := audio.Import(r, audio.ImportOptions{MaxDuration: MaxGreeting, MaxBytes: 16 << 20})
	if err != nil {
		return store.VoicemailGreeting{}, fieldErr("body", "%v", err)
	}
	return s.putGreetingPCM(ctx, a, b, slot, pcm)
}

// putGreetingPCM stores 8 kHz audio as a box's greeting in a slot.
func (s *Service) putGreetingPCM(ctx context.Context, a Actor, b store.VoicemailBox, slot string, pcm []int16) (store.VoicemailGreeting, error) {
	var buf bytes.Buffer
	raw := make([]byte, 2*len(pcm))
	for i, x := range pcm {
		raw[2*i], raw[2*i+1] = byte(x), byte(uint16(x)>>8)
	}
	if err := audio.WriteWAV(&buf, audio.Format{Encoding: audio.LinearPCM16, Rate: audio.Rate, Channels: 1}, raw); err != nil {
		return store.VoicemailGreeting{}, err
	}
	now := s.Now().UnixMilli()
	g := store.VoicemailGreeting{BoxID: b.ID, Slot: slot, TenantID: b.TenantID, UserID: b.UserID, DurationMS: audio.Duration(len(pcm)).Milliseconds(), UpdatedAt: now}
	var old int64
	_, err := s.files.Put(ctx, b.TenantID, b.UserID, filestore.KindGreeting, buf.Bytes(), now, func(tx *store.DB, f store.ContentFile) error {
		g.FileID = f.ID
		var err error
		old, err = tx.PutVoicemailGreeting(ctx, g)
		return err
	})
	if err != nil {
		return g, fmt.Errorf("voicemail: store greeting: %w", err)
	}
	if old != 0 {
		if err := s.files.Delete(context.WithoutCancel(ctx), b.TenantID, old); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("earlier greeting not removed (fsck removes it)", "box", b.ID, "err", err)
		}
	}
	return g, s.audit(ctx, a, b.TenantID, "voicemail.greeting_set", "voicemail_box", itoa(b.ID), "slot="+slot)
}

// DeleteGreeting removes a box's greeting of a slot.
func (s *Service) DeleteGreeting(ctx context.Context, a Actor, b store.VoicemailBox, slot string) error {
	g, err := s.db.VoicemailGreeting(ctx, b.TenantID, b.ID, slot)
	if err != nil {
		return err
	}
	if err := s.files.Delete(ctx, b.TenantID, g.FileID); err != nil {
		return err
	}
	return s.audit(ctx, a, b.TenantID, "voicemail.greeting_delete", "voicemail_box", itoa(b.ID), "slot="+slot)
}

// Messages lists a box's messages.
func (s *Service) Messages(ctx context.Context, b store.VoicemailBox, p store.Page) ([]store.VoicemailMessage, error) {
	return s.db.VoicemailMessages(ctx, b.TenantID, b.ID, p)
}

// Message returns one message of a box (ErrNotFound when it is another box's).
func (s *Service) Message(ctx context.Context, b store.VoicemailBox, id int64) (store.VoicemailMessage, error) {
	m, err := s.db.VoicemailMessage(ctx, b.TenantID, id)
	if err != nil {
		return m, err
	}
	if m.BoxID != b.ID {
		return store.VoicemailMessage{}, store.ErrNotFound
	}
	return m, nil
}

// Audio returns a message's WAV file (audited as a download).
func (s *Service) Audio(ctx context.Context, a Actor, b store.VoicemailBox, id int64) ([]byte, error) {
	m, err := s.Message(ctx, b, id)
	if err != nil {
		return nil, err
	}
	data, _, err := s.files.Get(ctx, b.TenantID, m.FileID)
	if err != nil {
		return nil, err
	}
	return data, s.audit(ctx, a, b.TenantID, "voicemail.download", "voicemail_message", itoa(m.ID), "box="+itoa(b.ID))
}

// MarkRead marks a message read or unread.
func (s *Service) MarkRead(ctx context.Context, b store.VoicemailBox, id int64, read bool) (store.VoicemailMessage, error) {
	m, err := s.Message(ctx, b, id)
	if err != nil {
		return m, err
	}
	var at int64
	if read {
		at = s.Now().UnixMilli()
	}
	if err := s.db.SetVoicemailRead(ctx, b.TenantID, id, at); err != nil {
		return m, err
	}
	s.changed(b)
	m.ReadAt = at
	return m, nil
}

// Delete removes a message: its file and, with it, its row (audited).
func (s *Service) Delete(ctx context.Context, a Actor, b store.VoicemailBox, id int64) error {
	m, err := s.Message(ctx, b, id)
	if err != nil {
		return err
	}
	if err := s.files.Delete(ctx, b.TenantID, m.FileID); err != nil {
		return err
	}
	s.changed(b)
	return s.audit(ctx, a, b.TenantID, "voicemail.delete", "voicemail_message", itoa(m.ID), "box="+itoa(b.ID))
}

// Summary is a box's message counts (what message-waiting indication reports).
type Summary struct {
	Total  int `json:"total"`
	Unread int `json:"unread"`
}

// Summary counts a box's messages.
func (s *Service) Summary(ctx context.Context, b store.VoicemailBox) (Summary, error) {
	t, u, err := s.db.CountVoicemailMessages(ctx, b.TenantID, b.ID)
	return Summary{Total: t, Unread: u}, err
}

// OnChange registers a function told of every change of a box's messages (message-waiting
// indication); call it at start-up.
func (s *Service) OnChange(f func(tenantID int64, number string)) {
	s.onChange = append(s.onChange, f)
}

func (s *Service) changed(b store.VoicemailBox) {
	for _, f := range s.onChange {
		f(b.TenantID, b.Number)
	}
}

// UnsolicitedMWI implements sip.UnsolicitedMWI: whether an extension's box is set to tell
// its registered phones of changes without a subscription.
func (s *Service) UnsolicitedMWI(ctx context.Context, tenantID int64, number string) (bool, error) {
	b, err := s.db.VoicemailBoxByNumber(ctx, tenantID, number)
	if err != nil {
		return false, err
	}
	return b.MWIUnsolicited, nil
}

// MessageCounts implements sip.MessageCounts: unread and read messages of an extension's box.
func (s *Service) MessageCounts(ctx context.Context, tenantID int64, number string) (newMsgs, oldMsgs int, err error) {
	b, err := s.db.VoicemailBoxByNumber(ctx, tenantID, number)
	if err != nil {
		return 0, 0, err
	}
	sum, err := s.Summary(ctx, b)
	return sum.Unread, sum.Total - sum.Unread, err
}
